"""The codec pipeline: serializers for manager-API data; compression, encryption,
header and checksum for every stored byte string.

Modules, one job each: ``serializers`` (plain data <-> bytes), ``compression``
(compressor registry), ``encryption`` (AES-256-GCM key ring), ``header`` (the
self-describing record header), ``checksum`` (digests over stored bytes) and
``pipeline`` (``CodecPipeline``, which combines them).
"""

from langgraph_ckpt_config.codecs.compression import compressor_names, get_compressor
from langgraph_ckpt_config.codecs.encryption import KeyRing, generate_key_spec
from langgraph_ckpt_config.codecs.pipeline import CodecPipeline
from langgraph_ckpt_config.codecs.serializers import get_serializer

__all__ = ["CodecPipeline", "KeyRing", "compressor_names", "generate_key_spec", "get_compressor", "get_serializer"]
