"""The machine learning both sides run: the NER model and its training, the aggregation rules, the experiments."""
