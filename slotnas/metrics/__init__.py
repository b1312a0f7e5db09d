"""Metrics of the current architecture."""
from .base import METRICS, Metric, register_metric
from .traversal import ParamsMetric, count_params

__all__ = ["METRICS", "Metric", "register_metric", "ParamsMetric", "count_params"]
