"""Everything NVFlare: site client components, the NER trainer, coordinator aggregation, provisioning,
study submission, the local demo and experiments, and the ``fednode`` CLI."""
