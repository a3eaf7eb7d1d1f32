"""Entry point: the Client API loop around the job's own nerlib package."""

import argparse

import nvflare.client as flare
import torch
from nerlib import build_model, entity_f1, read_split
from nerlib.labels import LABELS
from transformers import AutoTokenizer


def predict(model, tokenizer, sentences):
    gold, pred = [], []
    model.eval()
    with torch.no_grad():
        for s in sentences:
            enc = tokenizer(s.words, is_split_into_words=True, return_tensors="pt", truncation=True)
            ids = model(**enc).logits.argmax(-1)[0].tolist()
            word_ids = enc.word_ids()
            seen, tags = set(), []
            for pos, wid in enumerate(word_ids):
                if wid is not None and wid not in seen:
                    seen.add(wid)
                    tags.append(LABELS[ids[pos]])
            gold.append(s.tags[: len(tags)])
            pred.append(tags)
    return entity_f1(gold, pred)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    args = parser.parse_args()

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    model = build_model(args.model_dir)
    train = read_split(args.data_dir, "train")
    dev = read_split(args.data_dir, "dev")

    flare.init()
    while flare.is_running():
        current = flare.receive()
        model.load_state_dict(current.params)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5)
        model.train()
        for s in train:
            enc = tokenizer(s.words, is_split_into_words=True, return_tensors="pt", truncation=True)
            labels = [-100 if w is None else LABELS.index(s.tags[w]) for w in enc.word_ids()]
            out = model(**enc, labels=torch.tensor([labels]))
            optimizer.zero_grad()
            out.loss.backward()
            optimizer.step()
        scores = predict(model, tokenizer, dev)
        flare.send(
            flare.FLModel(params=model.state_dict(), metrics=scores, meta={"NUM_STEPS_CURRENT_ROUND": len(train)})
        )


if __name__ == "__main__":
    main()
