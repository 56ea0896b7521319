"""Ground-truth network lab: namespaces, veth, tc tbf, iptables drops and the TUN delay bridge.

Used by the lab tests (``tests/lab``) and ``benchmarks/accuracy.py``; see ``lab/README.md``
and docs/lab.md.  Importable from an editable install (``pip install -e .``) and from
pytest; not shipped in the wheel.
"""
