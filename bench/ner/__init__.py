"""NER model options measured one at a time against the baseline (``python -m bench.ner``)."""
