"""NVFlare components of fednode.

Site side: the approval gate and digest validator (``gate``), the egress guard (``egress``), the site's result
filters (``filters``), the built-in NER trainer (``executor``), the manifest carried in the job meta (``manifest``)
and the wiring to the site's services (``site_services``); see docs/site-client.md. Coordinator side: ``server``
and ``signing``. Modules are imported by their dotted paths (NVFlare builds components from JSON), so this package
imports nothing eagerly.
"""
