"""执法文书: legal documents issued from a case (templates, 文号, frozen PDF, 送达).

``models`` (tables), ``store`` (content-addressed blobs), ``pdf`` (A4 GB/T 9704-like renderer),
``templates``/``catalog`` (one template per type, overridable per authority), ``numbers`` (文号),
``issue`` (issue / correct / void / list), ``delivery`` (送达 driving the case clocks), ``api``.
"""
