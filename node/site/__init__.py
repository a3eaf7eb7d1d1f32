"""Site-side components: the approval gate, egress, job staging and confinement of job code."""
