"""Transformers + Opacus in an external process: embeddings frozen (Opacus issue 841), DP-SGD on the rest."""

import argparse
import logging
import os

import nvflare.client as flare
import torch
from opacus import PrivacyEngine
from seqeval.metrics import f1_score
from torch.utils.data import DataLoader
from transformers import AutoModelForTokenClassification, AutoTokenizer

log = logging.getLogger("ner_dp")
TAGS = ["O", "B-Disease", "I-Disease"]


def sentences(path):
    block = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            raw = raw.strip()
            if raw:
                block.append(tuple(raw.split("\t")))
            elif block:
                yield block
                block = []
    if block:
        yield block


def tensorise(tokenizer, data_dir, split, max_len=64):
    items = []
    for sent in sentences(os.path.join(data_dir, f"{split}.tsv")):
        words = [w for w, _ in sent]
        enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_len, padding="max_length")
        labels = [-100 if i is None else TAGS.index(sent[i][1]) for i in enc.word_ids()]
        items.append((torch.tensor(enc["input_ids"]), torch.tensor(enc["attention_mask"]), torch.tensor(labels)))
    return items


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    parser.add_argument("--noise_multiplier", type=float, default=1.0)
    parser.add_argument("--max_grad_norm", type=float, default=1.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForTokenClassification.from_pretrained(args.model_dir, num_labels=len(TAGS))
    for p in model.base_model.embeddings.parameters():
        p.requires_grad = False
    train = DataLoader(tensorise(tokenizer, args.data_dir, "train"), batch_size=8, shuffle=True)
    dev = tensorise(tokenizer, args.data_dir, "dev")
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    engine = PrivacyEngine()
    private_model, optimizer, train = engine.make_private(
        module=model,
        optimizer=optimizer,
        data_loader=train,
        noise_multiplier=args.noise_multiplier,
        max_grad_norm=args.max_grad_norm,
    )

    flare.init()
    while flare.is_running():
        incoming = flare.receive()
        model.load_state_dict(incoming.params, strict=False)
        private_model.train()
        for ids, mask, labels in train:
            optimizer.zero_grad()
            out = private_model(input_ids=ids, attention_mask=mask, labels=labels)
            out.loss.backward()
            optimizer.step()
        model.eval()
        gold, pred = [], []
        with torch.no_grad():
            for ids, mask, labels in dev:
                logits = model(input_ids=ids[None], attention_mask=mask[None]).logits[0]
                keep = labels != -100
                gold.append([TAGS[i] for i in labels[keep].tolist()])
                pred.append([TAGS[i] for i in logits.argmax(-1)[keep].tolist()])
        score = f1_score(gold, pred)
        log.info("dev f1 %.3f epsilon %.2f", score, engine.get_epsilon(1e-5))
        flare.send(flare.FLModel(params=model.state_dict(), metrics={"f1": score}))


if __name__ == "__main__":
    main()
