"""Former home of :func:`gex_impute.tl.impute`; kept so that old imports keep working."""

from __future__ import annotations

from .tl._methods import h5ad_safe as _h5ad_safe
from .tl._methods import method_params as _method_params
from .tl._methods import resolve_method as _resolve_method
from .tl.impute import impute

__all__ = ["impute"]
_COMPAT = (_h5ad_safe, _method_params, _resolve_method)
