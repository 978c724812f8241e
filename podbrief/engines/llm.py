"""A thin wrapper over llama-cpp-python: load a GGUF once, then prompt it quietly.

Prompts are rendered with the model's own chat template in llama-cpp-python's
sandboxed Jinja environment (>= 0.2.72, CVE-2024-34359), each render bounded in
time: a template of nested loops would otherwise hang extract. A template that
tries to leave the sandbox or runs too long is a ModelError, found when the model
loads. Consecutive prompts that start alike reuse the evaluated prefix from the KV
cache (llama-cpp-python keeps the last prompt's tokens), so stages should put the
fixed instructions first.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from podbrief import devices, model_registry
from podbrief.errors import ModelError
from podbrief.store import Paths

# Used when a GGUF carries no chat template (the format of every bundled model).
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
HUB_DEFAULT_FILE = "*[Qq]4_[Kk]_[Mm].gguf"
TEMPLATE_SECONDS = 2.0  # a chat template renders in milliseconds; one that takes longer is refused
log = logging.getLogger(__name__)


def default_threads() -> int:
    """llama.cpp threads for this machine: one per core that other processes leave idle.

    Measured on 2 cores (docs/extract.md): on a quiet machine 2 threads beat 1 by ~1.7x, but
    when another process holds a core, 2 OpenMP threads collapse (45 -> 6 tok/s) while 1 thread
    keeps its speed. So count the cores in use right now (a 1-minute load average lags and would
    count our own previous work), and give way at half a core of load.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, math.floor(cores - _busy_cores(cores) + 0.5)))


def _busy_cores(cores: int, interval: float = 0.3) -> float:
    """Cores busy over `interval` seconds, from /proc/stat (the load average where there is none)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values), idle

    try:
        total1, idle1 = sample()
        time.sleep(interval)
        total2, idle2 = sample()
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    elapsed = max(total2 - total1, 1)
    return cores * (1 - (idle2 - idle1) / elapsed)


@dataclass
class Usage:
    """Token and time counters, for --debug and the benchmark."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class LLM:
    """One loaded GGUF model. Create it once per run: loading costs seconds."""

    def __init__(self, model: model_registry.ResolvedModel, paths: Paths, threads: int = 0, context_size: int = 4096,
                 gpu_layers: int = 0):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter  # imported lazily: a heavy native library

        self.threads = threads or default_threads()
        self.gpu_layers = devices.gpu_layers(gpu_layers)
        options: dict[str, Any] = {"n_ctx": context_size, "n_threads": self.threads,
                                   "n_threads_batch": self.threads, "n_gpu_layers": self.gpu_layers, "verbose": False}
        if model.sha256 is None:
            self._llama = self._on_gpu_or_cpu(str(model.path), lambda opts: _load_hub(str(model.path), opts), options)
            local = model_registry.resolve("llm", self._llama.model_path, paths)
            self.name, self.sha256 = model.name, local.sha256
        else:
            self._llama = self._on_gpu_or_cpu(str(model.path), lambda opts: _load_local(model, opts), options)
            self.name, self.sha256 = model.name, model.sha256
        log.debug("%s on %s", model.name, devices.llm_device(self.gpu_layers))
        template = self._llama.metadata.get("tokenizer.chat_template") or CHATML
        eos = self._llama.token_eos()
        self._eos_text = self._llama._model.token_get_text(eos) if eos != -1 else ""
        self._formatter = Jinja2ChatFormatter(template=template, eos_token=self._eos_text, bos_token="")
        self.context_size = self._llama.n_ctx()
        self.usage = Usage()
        self.prompt([{"role": "system", "content": "Check."}, {"role": "user", "content": "Is the template safe?"}])

    def _on_gpu_or_cpu(self, what: str, load: Callable[[dict[str, Any]], Any], options: dict[str, Any]) -> Any:
        """`load(options)`; a model that fails on the GPU is loaded again on the CPU, with one warning."""
        try:
            return load(options)
        except ModelError as exc:
            if not self.gpu_layers:
                raise
            log.warning("cannot load %s on the GPU, using the CPU: %s", what, exc)
            self.gpu_layers = 0
            return load({**options, "n_gpu_layers": 0})

    def prompt(self, messages: Sequence[dict[str, str]]) -> str:
        """Render chat messages (their content already through extraction.untrusted.neutralize) into a prompt that awaits the reply."""
        from jinja2 import TemplateError

        try:
            with _time_limit(TEMPLATE_SECONDS):
                return self._formatter(messages=list(messages)).prompt  # type: ignore[arg-type]  # plain role/content dicts
        except _TimeUp:
            raise ModelError(f"{self.name}: its chat template took over {TEMPLATE_SECONDS:g} s to render; "
                             "refusing it (use another model file)") from None
        except TemplateError as exc:  # SecurityError included: the template tried to leave the sandbox
            raise ModelError(f"{self.name}: its chat template cannot be rendered ({type(exc).__name__}: {exc})") from None

    def complete(self, prompt: str, max_tokens: int, stop: Sequence[str] = ("\n",), temperature: float = 0.0,
                 seed: int = 0) -> str:
        """Continue `prompt` (sampling is seeded, so a run is repeatable)."""
        self._check_fits(prompt, max_tokens)
        started = time.monotonic()
        result = self._llama.create_completion(
            prompt, max_tokens=max_tokens, temperature=temperature,
            stop=[*stop, self._eos_text] if self._eos_text else list(stop), seed=seed, repeat_penalty=1.1)
        self._count(result["usage"], started)
        return str(result["choices"][0]["text"])

    def yes_probability(self, prompt: str) -> float:
        """P("Yes") against P("No") as the first token of the reply to `prompt`: a graded answer to a yes/no
        question, read from the logits (no sampling). The evaluated prefix is reused from the KV cache."""
        import numpy as np

        self._check_fits(prompt, 1)
        started = time.monotonic()
        llama = self._llama
        tokens = llama.tokenize(prompt.encode("utf-8"), special=True)
        cached = 0
        for have, want in zip(llama._input_ids.tolist(), tokens):
            if have != want:
                break
            cached += 1
        llama.n_tokens = min(cached, len(tokens) - 1)  # evaluate at least the last token: its logits are the answer
        llama.eval(tokens[llama.n_tokens:])
        logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).astype(np.float64)
        yes, no = (logits[self._first_tokens(words)] for words in (("Yes", " Yes", "yes"), ("No", " No", "no")))
        top = max(yes.max(), no.max())
        p_yes, p_no = np.exp(yes - top).sum(), np.exp(no - top).sum()
        self._count({"prompt_tokens": len(tokens) - cached, "completion_tokens": 1}, started)
        return float(p_yes / (p_yes + p_no))

    def _first_tokens(self, words: Sequence[str]) -> list[int]:
        return sorted({self._llama.tokenize(word.encode("utf-8"), add_bos=False, special=False)[0] for word in words})

    def tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _check_fits(self, prompt: str, max_tokens: int) -> None:
        needed = self.tokens(prompt) + max_tokens
        if needed > self.context_size:
            raise ModelError(f"a prompt needs {needed} tokens but llm.context_size is {self.context_size}; raise it")

    def _count(self, usage: dict[str, int], started: float) -> None:
        self.usage.calls += 1
        self.usage.prompt_tokens += usage["prompt_tokens"]
        self.usage.completion_tokens += usage["completion_tokens"]
        self.usage.seconds += time.monotonic() - started


class _TimeUp(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise _TimeUp in the code under it after `seconds` (SIGALRM: on the main thread only, where
    extract runs; elsewhere unbounded)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _TimeUp

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _load_local(model: model_registry.ResolvedModel, options: dict[str, Any]) -> Any:
    from llama_cpp import Llama

    try:
        return Llama(model_path=str(model.path), **options)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"cannot load {model.path} with llama.cpp: {exc}") from None


def _load_hub(name: str, options: dict[str, Any]) -> Any:
    """Download (or reuse from the hub cache) "org/repo" or "org/repo:file.gguf"."""
    from llama_cpp import Llama

    repo, _, filename = name.partition(":")
    try:
        import huggingface_hub  # noqa: F401  (Llama.from_pretrained needs it)
    except ImportError:
        raise ModelError(f"{name!r} is a Hugging Face hub id: pip install huggingface-hub to download it, "
                         "or set llm.model to a local .gguf file or an offline model") from None
    try:
        return Llama.from_pretrained(repo_id=repo, filename=filename or HUB_DEFAULT_FILE, **options)
    except Exception as exc:  # noqa: BLE001 (network, auth, missing file: the hub client raises many types)
        raise ModelError(f"cannot get {name!r} from the Hugging Face hub ({type(exc).__name__}: {exc}); "
                         "offline? set llm.model to a local .gguf file or an offline model") from None
