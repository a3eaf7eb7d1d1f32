"""BERT token classification on the staged NER split, as NVFlare's NLP-NER example does it (Client API)."""

import argparse
import os

import numpy as np
import nvflare.client as flare
import torch
from seqeval.metrics import classification_report, f1_score
from torch.utils.data import DataLoader
from transformers import AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification

LABELS = ["O", "B-Disease", "I-Disease"]
LABEL_TO_ID = {label: i for i, label in enumerate(LABELS)}


def read_split(data_dir, name):
    sentences, tags, words, labels = [], [], [], []
    with open(os.path.join(data_dir, f"{name}.tsv"), encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                if words:
                    sentences.append(words)
                    tags.append(labels)
                words, labels = [], []
                continue
            word, label = line.split("\t")
            words.append(word)
            labels.append(label)
    if words:
        sentences.append(words)
        tags.append(labels)
    return sentences, tags


def encode(tokenizer, sentences, tags, max_length=128):
    out = []
    for words, labels in zip(sentences, tags, strict=True):
        enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
        aligned, previous = [], None
        for word_id in enc.word_ids():
            if word_id is None or word_id == previous:
                aligned.append(-100)
            else:
                aligned.append(LABEL_TO_ID.get(labels[word_id], 0))
            previous = word_id
        enc["labels"] = aligned
        out.append(dict(enc))
    return out


def evaluate(model, loader, device):
    model.eval()
    y_true, y_pred = [], []
    with torch.no_grad():
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(**batch).logits
            preds = logits.argmax(-1).cpu().numpy()
            gold = batch["labels"].cpu().numpy()
            for p_row, g_row in zip(preds, gold, strict=True):
                keep = g_row != -100
                y_true.append([LABELS[i] for i in g_row[keep]])
                y_pred.append([LABELS[i] for i in p_row[keep]])
    return f1_score(y_true, y_pred), classification_report(y_true, y_pred)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForTokenClassification.from_pretrained(args.model_dir, num_labels=len(LABELS)).to(device)
    collator = DataCollatorForTokenClassification(tokenizer)
    train = encode(tokenizer, *read_split(args.data_dir, "train"))
    dev = encode(tokenizer, *read_split(args.data_dir, "dev"))
    train_loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, collate_fn=collator)
    dev_loader = DataLoader(dev, batch_size=args.batch_size, collate_fn=collator)

    flare.init()
    while flare.is_running():
        input_model = flare.receive()
        model.load_state_dict(input_model.params)
        f1_before, _ = evaluate(model, dev_loader, device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
        model.train()
        steps = 0
        for _ in range(args.epochs):
            for batch in train_loader:
                batch = {k: v.to(device) for k, v in batch.items()}
                loss = model(**batch).loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                steps += 1
        print(f"round {input_model.current_round}: dev F1 before training {f1_before:.3f}, steps {steps}")
        params = {k: v.cpu() for k, v in model.state_dict().items()}
        flare.send(
            flare.FLModel(
                params=params, metrics={"f1": float(np.round(f1_before, 4))}, meta={"NUM_STEPS_CURRENT_ROUND": steps}
            )
        )


if __name__ == "__main__":
    main()
