"""Hardware metrics as a chain: export the current architecture to ONNX (in memory), time it with onnxruntime."""
from __future__ import annotations

import io
import statistics
import time
from typing import Any, Dict, Literal, Optional, Sequence, Union

import numpy as np
from torch import nn

from ..constraints import NonNegativeInt, PositiveInt, Shape
from ..arch_space.export import fix, to_onnx
from ..errors import SlotnasError
from .base import Metric, register_metric

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
STATISTICS = ("min", "median", "p90")


@register_metric("onnx_export")
class OnnxExportMetric(Metric):
    """Exports the current architecture, every mixed op resolved, to checked ONNX bytes (no temp files)."""

    def __init__(self, input_shape: Optional[Shape] = None, opset: PositiveInt = 17) -> None:
        super().__init__(input_shape)
        self.opset = opset

    def export(self, model: nn.Module, input_shape: Optional[Sequence[int]] = None) -> bytes:
        """ONNX bytes of the current architecture (input ``input_shape``, default the metric's), checked."""
        input_shape = input_shape or self.input_shape
        if input_shape is None:
            raise SlotnasError("onnx_export: input_shape is unknown; set it or take it from the data config")
        buffer = io.BytesIO()
        to_onnx(fix(model), input_shape, buffer, opset=self.opset)
        return buffer.getvalue()

    def compute(self, target: nn.Module) -> Dict[str, Any]:
        return {"onnx_kb": round(len(self.export(target)) / 1024, 1)}


@register_metric("ort_latency")
class OrtLatencyMetric(Metric):
    """Runs ONNX bytes (or a model, exported first) with onnxruntime: warm-up, then timed repeats.

    Reports ``latency_median_ms``, ``latency_p90_ms``, ``latency_cv`` (std / mean of the repeats)
    and ``latency_ms``, the ``statistic`` a search optimizes. Its default, ``min``, is the stable
    one on shared CPUs, where noise only adds time: over fresh sessions of mobilenet_v2 here the
    minimum varied 2.4 % (CV) and the median 10 %.
    """

    def __init__(self, input_shape: Optional[Shape] = None, provider: str = "cpu", threads: PositiveInt = 1,
                 warmup: NonNegativeInt = 10, repeats: PositiveInt = 50, batch_size: PositiveInt = 1,
                 opset: PositiveInt = 17,
                 statistic: Literal[STATISTICS] = "min") -> None:
        super().__init__(input_shape)
        self.statistic = statistic
        self.provider = PROVIDERS.get(provider, provider)
        self.threads, self.warmup, self.repeats, self.batch_size = threads, warmup, repeats, batch_size
        self.exporter = OnnxExportMetric(input_shape, opset)

    def session(self, onnx_bytes: bytes) -> Any:
        """An onnxruntime session on the configured provider and thread count."""
        import onnxruntime as ort  # lazy: ~0.3 s

        if self.provider not in ort.get_available_providers():
            raise SlotnasError(f"ort_latency.provider: {self.provider!r} not available here; "
                               f"allowed: {', '.join(ort.get_available_providers())}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        return ort.InferenceSession(onnx_bytes, sess_options=options, providers=[self.provider])

    def time_session(self, session: Any) -> Dict[str, float]:
        """Latency statistics of an existing session."""
        feed = {session.get_inputs()[0].name: self.example(session)}
        for _ in range(self.warmup):
            session.run(None, feed)
        times = []
        for _ in range(self.repeats):
            start = time.perf_counter()
            session.run(None, feed)
            times.append((time.perf_counter() - start) * 1e3)
        times.sort()
        mean = statistics.fmean(times)
        stats = {
            "latency_min_ms": times[0],
            "latency_median_ms": statistics.median(times),
            "latency_p90_ms": times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))],
            "latency_cv": statistics.pstdev(times) / mean if mean > 0 else 0.0,
        }
        key = "latency_min_ms" if self.statistic == "min" else f"latency_{self.statistic}_ms"
        return {"latency_ms": stats[key], **stats}

    def example(self, session: Any) -> np.ndarray:
        """A random input of the session's input shape (batch ``batch_size``)."""
        shape = [self.batch_size] + [int(d) for d in session.get_inputs()[0].shape[1:]]
        return np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    def measure(self, onnx_bytes: bytes) -> Dict[str, float]:
        """Latency statistics of ONNX bytes."""
        return self.time_session(self.session(onnx_bytes))

    def compute(self, target: Union[nn.Module, bytes]) -> Dict[str, Any]:
        onnx_bytes = target if isinstance(target, bytes) else self.exporter.export(target)
        return {k: round(v, 4) for k, v in self.measure(onnx_bytes).items()}


@register_metric("latency")
class LatencyMetric(OrtLatencyMetric):
    """The export -> onnxruntime chain on the current architecture (alias of ort_latency for models)."""
