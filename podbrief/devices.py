"""Which device each engine runs on: the GPU when there is one, else the CPU.

`transcribe.device` (auto | cpu | cuda) picks faster-whisper's device; auto means CUDA when
CTranslate2 sees a CUDA device. `llm.gpu_layers` is how many layers llama.cpp offloads
(-1 = all), and counts only where llama.cpp was built with GPU offload. Loading on a GPU
that then fails falls back to the CPU with one warning (the engines do that).
"""

from __future__ import annotations

from podbrief.config import Config


def cuda_devices() -> int:
    """How many CUDA devices CTranslate2 can use (0 without a GPU, a driver or a CUDA build)."""
    import ctranslate2  # imported lazily: a heavy native library

    try:
        return ctranslate2.get_cuda_device_count()
    except RuntimeError:
        return 0


def whisper_device(config: Config) -> str:
    """"cuda" or "cpu", from `transcribe.device`."""
    requested = config["transcribe"]["device"]
    if requested == "auto":
        return "cuda" if cuda_devices() else "cpu"
    return requested


def gpu_layers(configured: int) -> int:
    """The layers llama.cpp should offload: `llm.gpu_layers` where llama.cpp can offload at all, else 0."""
    from llama_cpp import llama_supports_gpu_offload  # imported lazily: a heavy native library

    return configured if configured and llama_supports_gpu_offload() else 0


def llm_device(layers: int) -> str:
    """How llama.cpp runs with `layers` offloaded, in words."""
    if not layers:
        return "cpu"
    return "gpu (all layers)" if layers < 0 else f"gpu ({layers} layers)"


def describe(config: Config) -> dict[str, str]:
    """{model kind: the device it runs on}, for `podbrief models`."""
    device = whisper_device(config)
    return {"whisper": "cuda (float16)" if device == "cuda" else f"cpu ({config['transcribe']['compute_type']})",
            "llm": llm_device(gpu_layers(config["llm"]["gpu_layers"]))}
