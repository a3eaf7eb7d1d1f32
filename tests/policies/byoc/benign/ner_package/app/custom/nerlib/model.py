"""The token classifier: a local checkpoint folder, never a hub download."""

from transformers import AutoConfig, AutoModelForTokenClassification

from . import labels


def build_model(model_dir):
    config = AutoConfig.from_pretrained(model_dir, num_labels=len(labels.LABELS), local_files_only=True)
    config.id2label = dict(enumerate(labels.LABELS))
    config.label2id = {v: k for k, v in config.id2label.items()}
    return AutoModelForTokenClassification.from_pretrained(model_dir, config=config, local_files_only=True)
