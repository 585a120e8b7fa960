"""Chat models: the ``chat`` hook's call and answer, and the list ``/models`` serves.

Without HTTP: the route hands over the request's JSON and headers.  ``chat_params``
checks the parameters; ``call_chat`` (in a model thread) or ``call_chat_async`` (an
``async def`` hook, on the event loop) calls the hook as DRUM does, with ``headers=``
only when the hook takes it, and turns its answer into JSON-ready dicts:

- a ``ChatCompletion``: ``Completion``, its fields as set, plus ``datarobot_association_id``;
- an iterable of ``ChatCompletionChunk``: ``SyncChunks``, each chunk produced by
  ``next()`` in a model thread; an async iterator (beyond DRUM): ``AsyncChunks``,
  awaited on the loop.  The first chunk is taken before the response starts, as DRUM
  does, so that a hook failing at once still answers a plain 500.

The ``openai`` package is not imported here (it is an optional extra): an answer built
of its types means the model imported it, so its classes are looked up in ``sys.modules``.
"""

from __future__ import annotations

import inspect
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import TargetType
from ..errors import DrumHTTPError, PredictionError

__all__ = [
    "ASSOCIATION_ID_KEY",
    "AsyncChunks",
    "ChatAnswer",
    "ChatCall",
    "ChatRequestError",
    "Completion",
    "SyncChunks",
    "call_chat",
    "call_chat_async",
    "chat_params",
    "check_chat_supported",
    "check_models_supported",
    "llm_models",
    "models_from_hook",
    "supported_models",
]

ASSOCIATION_ID_KEY = "datarobot_association_id"
CHAT_NOT_SUPPORTED = "This model's chat interface was called, but chat is not supported."
MODELS_TEXTGEN_ONLY = "get_supported_llm_models is supported only for TextGen models"
#: What DRUM answers for the model the ``LLM_ID`` runtime parameter names (2025-01-01T00:00:00Z, its owner).
LLM_ID_CREATED = 1735689600
LLM_ID_OWNER = "DataRobot"
_OPENAI_CHAT_TYPES = "openai.types.chat"
_END = object()


class ChatRequestError(DrumHTTPError):
    """The chat request's parameters are not what the chat API takes: 400."""

    status_code = 400


def check_chat_supported(hook: Callable[..., Any] | None) -> Callable[..., Any]:
    if hook is None:
        raise DrumHTTPError(CHAT_NOT_SUPPORTED, status_code=404)
    return hook


def check_models_supported(target_type: TargetType) -> None:
    if target_type is not TargetType.TEXT_GENERATION:
        raise DrumHTTPError(MODELS_TEXTGEN_ONLY, status_code=404)


def chat_params(body: Any) -> dict[str, Any]:
    """The request's JSON as the hook's ``completion_create_params``, once checked.

    DRUM passes anything on and the hook (or DRUM) then fails with a 500; here a
    body that is not an object, or ``messages`` that is not a list of objects, is
    the client's mistake, named.
    """
    if not isinstance(body, dict):
        raise ChatRequestError(
            f"The chat request must be a JSON object, got {_json_type(body)}"
        )
    messages = body.get("messages")
    if not isinstance(messages, list):
        got = "nothing" if "messages" not in body else _json_type(messages)
        raise ChatRequestError(f"'messages' must be a list of message objects, got {got}")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ChatRequestError(
                f"'messages' must be a list of message objects; item {index} is"
                f" {_json_type(message)}"
            )
    return body


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class ChatCall:
    """One call of the chat hook: its parameters and the request's headers."""

    params: dict[str, Any]
    headers: Mapping[str, str]

    @property
    def association_id(self) -> str:
        """The client's ``datarobot_association_id``, else a new one (as DRUM)."""
        given = self.params.get(ASSOCIATION_ID_KEY)
        return str(given) if given else str(uuid.uuid4())


def _hook_kwargs(hook: Callable[..., Any], call: ChatCall) -> dict[str, Any]:
    """``headers=`` when the hook takes it (by name or ``**kwargs``), as DRUM decides."""
    try:
        parameters = inspect.signature(hook).parameters.values()
    except (TypeError, ValueError):
        return {"headers": call.headers}
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD or parameter.name == "headers":
            return {"headers": call.headers}
    return {}


def _openai_class(name: str) -> type | None:
    module = sys.modules.get(_OPENAI_CHAT_TYPES)
    cls = getattr(module, name, None)
    return cls if isinstance(cls, type) else None


def _is_openai(value: Any, name: str) -> bool:
    cls = _openai_class(name)
    return cls is not None and isinstance(value, cls)


def _fields(value: Any) -> dict[str, Any]:
    """An openai object's fields as set, by their API names (DRUM's ``to_dict``)."""
    fields: dict[str, Any] = value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return fields


def _wrong_answer(result: Any) -> PredictionError:
    return PredictionError(
        "Expected response to be ChatCompletion or Iterable[ChatCompletionChunk]."
        f" response type: {type(result)}.response(str): {result}"
    )


@dataclass(frozen=True)
class Completion:
    """A whole ``ChatCompletion``: the JSON body to answer."""

    body: dict[str, Any]


class SyncChunks:
    """The chunks of a sync iterator; ``next`` and ``close`` run in model threads.

    ``close`` never waits for a ``next`` still running in another thread (one whose
    caller was released at its deadline): that ``next`` closes the iterator itself
    when it returns.
    """

    def __init__(self, source: Any, iterator: Iterator[Any], association_id: str) -> None:
        self._source = source
        self._iterator = iterator
        self.association_id = association_id
        self._lock = threading.Lock()
        self._close_asked = False
        self._first = True
        self._ahead: list[dict[str, Any] | None] = []

    def take_first(self) -> None:
        """Produce the first chunk now (in the thread that called the hook)."""
        self._ahead.append(self.next())

    @property
    def first_ready(self) -> bool:
        return bool(self._ahead)

    def next(self) -> dict[str, Any] | None:
        """The next chunk as a dict, or None at the end.  An exception is the model's."""
        if self._ahead:
            return self._ahead.pop()
        with self._lock:
            if self._close_asked:
                return None
            try:
                chunk = next(self._iterator, _END)
            except BaseException:
                self._close_asked = True  # it ended by raising: nothing left to close
                raise
        if self._close_asked:
            self.close()
            return None
        if chunk is _END:
            return None
        return self._encode(chunk)

    def _encode(self, chunk: Any) -> dict[str, Any]:
        first, self._first = self._first, False
        if not _is_openai(chunk, "ChatCompletionChunk"):
            self.close()
            if first:
                raise _wrong_answer(self._source)
            raise PredictionError(
                f"Expected the chat stream to yield ChatCompletionChunk, got {type(chunk)}"
            )
        return {**_fields(chunk), ASSOCIATION_ID_KEY: self.association_id}

    def close(self) -> None:
        """Stop the iterator (a generator's ``finally`` runs); at once, or when ``next`` returns."""
        self._close_asked = True
        if not self._lock.acquire(blocking=False):
            return  # a next() is running: it closes the iterator when it returns
        try:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
        finally:
            self._lock.release()


class AsyncChunks:
    """The chunks of an async iterator (beyond DRUM), awaited on the event loop."""

    def __init__(self, source: Any, iterator: AsyncIterator[Any], association_id: str) -> None:
        self._source = source
        self._iterator = iterator
        self.association_id = association_id
        self._first = True
        self._ahead: list[dict[str, Any] | None] = []

    async def take_first(self) -> None:
        self._ahead.append(await self.next())

    @property
    def first_ready(self) -> bool:
        return bool(self._ahead)

    async def next(self) -> dict[str, Any] | None:
        if self._ahead:
            return self._ahead.pop()
        try:
            chunk = await self._iterator.__anext__()
        except StopAsyncIteration:
            return None
        first, self._first = self._first, False
        if not _is_openai(chunk, "ChatCompletionChunk"):
            await self.close()
            if first:
                raise _wrong_answer(self._source)
            raise PredictionError(
                f"Expected the chat stream to yield ChatCompletionChunk, got {type(chunk)}"
            )
        return {**_fields(chunk), ASSOCIATION_ID_KEY: self.association_id}

    async def close(self) -> None:
        """``aclose()`` an async generator; ``close()`` another async iterator that has one
        (the openai client's AsyncStream closes its upstream response)."""
        close = getattr(self._iterator, "aclose", None) or getattr(self._iterator, "close", None)
        if close is not None:
            closing = close()
            if inspect.isawaitable(closing):
                await closing


ChatAnswer = Completion | SyncChunks | AsyncChunks


def _answer(result: Any, association_id: str) -> ChatAnswer:
    """What the hook returned, checked as DRUM checks it (async iterators beyond DRUM)."""
    if _is_openai(result, "ChatCompletion"):
        return Completion({**_fields(result), ASSOCIATION_ID_KEY: association_id})
    if isinstance(result, AsyncIterator):
        return AsyncChunks(result, result, association_id)
    if isinstance(result, Iterable) and not isinstance(result, (str, bytes, Mapping)):
        # An iterator as it is: closing it must reach it (the openai client's Stream
        # closes its upstream response), not a wrapper iter() would make.
        iterator = result if isinstance(result, Iterator) else iter(result)
        return SyncChunks(result, iterator, association_id)
    # DRUM iterates a str or a dict too, and then refuses its first item with this message.
    raise _wrong_answer(result)


def call_chat(hook: Callable[..., Any], model: Any, call: ChatCall) -> ChatAnswer:
    """Call a sync chat hook (in a model thread); a stream's first chunk is produced too."""
    result = hook(call.params, model, **_hook_kwargs(hook, call))
    answer = _answer(result, call.association_id)
    if isinstance(answer, SyncChunks):
        answer.take_first()
    return answer


async def call_chat_async(hook: Callable[..., Any], model: Any, call: ChatCall) -> ChatAnswer:
    """Await an ``async def`` chat hook on the loop; an async stream's first chunk too.

    A sync iterator it returns still has its chunks produced in model threads.
    """
    result = await hook(call.params, model, **_hook_kwargs(hook, call))
    answer = _answer(result, call.association_id)
    if isinstance(answer, AsyncChunks):
        await answer.take_first()
    return answer


def models_from_hook(result: Any) -> list[dict[str, Any]]:
    """The entries of ``/models`` from what ``get_supported_llm_models`` returned.

    DRUM keeps only openai ``Model`` objects and drops anything else without a word;
    here a dict is an entry as it is, and anything else is the model's error.
    """
    if not isinstance(result, Iterable) or isinstance(result, (str, bytes, Mapping)):
        raise PredictionError(
            "get_supported_llm_models must return a list of openai Model objects (or dicts),"
            f" got {type(result)}"
        )
    entries: list[dict[str, Any]] = []
    for item in result:
        if isinstance(item, Mapping):
            entries.append(dict(item))
        elif hasattr(item, "model_dump"):
            entries.append(_fields(item))
        else:
            raise PredictionError(
                "get_supported_llm_models must return openai Model objects (or dicts);"
                f" one is {type(item)}"
            )
    return entries


def supported_models(hook: Callable[..., Any], model: Any) -> list[dict[str, Any]]:
    """Call a sync ``get_supported_llm_models`` hook (in a model thread): ``/models``' entries."""
    return models_from_hook(hook(model))


def llm_models(llm_id: str | None) -> list[dict[str, Any]]:
    """``/models`` without a hook: the ``LLM_ID`` runtime parameter's model, if set."""
    if not llm_id:
        return []
    return [{"created": LLM_ID_CREATED, "id": str(llm_id), "object": "model", "owned_by": LLM_ID_OWNER}]
