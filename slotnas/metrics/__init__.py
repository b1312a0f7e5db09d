"""Metrics of the current architecture: params, FLOPs, ONNX export, onnxruntime latency, latency LUT."""
from .base import METRICS, Metric, register_metric
from .traversal import FlopsMetric, ParamsMetric, TraversalMetric, count_params  # isort: skip
from .onnx import LatencyMetric, OnnxExportMetric, OrtLatencyMetric  # isort: skip
from .lut import LatencyLUT, LutLatencyMetric  # isort: skip
from .criterion import AggregateCriterion, CriterionChain

__all__ = ["METRICS", "Metric", "register_metric", "TraversalMetric", "ParamsMetric", "FlopsMetric", "count_params",
           "OnnxExportMetric", "OrtLatencyMetric", "LatencyMetric", "LatencyLUT", "LutLatencyMetric",
           "AggregateCriterion", "CriterionChain"]
