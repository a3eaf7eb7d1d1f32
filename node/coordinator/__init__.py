"""The coordinator side: the scatter-and-gather workflow with fednode's aggregators and quorum (``controller``),
the signed final model (``provenance``), FLTrust's root set and update (``root_set``), how a study ended
(``run_status``), the initial model and wire format (``model``), and a launcher that runs a provisioned federation
as local processes (``launcher``), the model's signature (``signing``), provisioning the startup kits
(``provision``) and the study client behind ``fednode study`` (``study``).

Modules are imported by full path (NVFlare builds the controller from ``node.coordinator.controller``); nothing is
re-exported here so that importing the package stays cheap.
"""
