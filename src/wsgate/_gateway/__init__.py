"""Implementation of :mod:`wsgate.gateway`, split by concern. Import from ``wsgate.gateway``."""
