"""bench_llm.py and run.py's chat model: streamed chunks, and a 50 ms score_unstructured.

``BENCH_HOOKS=async`` picks ``async def`` hooks; ``BENCH_CHUNKS`` and ``BENCH_CHUNK_INTERVAL``
shape the stream. Needs ``openai`` in the server's environment.
"""

import asyncio
import os
import time

CHUNKS = int(os.environ.get("BENCH_CHUNKS", "20"))
INTERVAL = float(os.environ.get("BENCH_CHUNK_INTERVAL", "0.05"))


def load_model(code_dir):
    return "bench"


def chunk(index):
    from openai.types.chat import ChatCompletionChunk
    from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta

    return ChatCompletionChunk(id="bench", created=1, model="bench", object="chat.completion.chunk",
                               choices=[Choice(index=0, delta=ChoiceDelta(content=f"token{index} "),
                                               finish_reason=None if index < CHUNKS - 1 else "stop")])


if os.environ.get("BENCH_HOOKS") == "async":
    async def chat(completion_create_params, model, **kwargs):
        async def tokens():
            for index in range(CHUNKS):
                if index:
                    await asyncio.sleep(INTERVAL)
                yield chunk(index)
        return tokens()

    async def score_unstructured(model, data, query, **kwargs):
        await asyncio.sleep(0.05)
        return "ok"
else:
    def chat(completion_create_params, model, **kwargs):
        def tokens():
            for index in range(CHUNKS):
                if index:
                    time.sleep(INTERVAL)
                yield chunk(index)
        return tokens()

    def score_unstructured(model, data, query, **kwargs):
        time.sleep(0.05)
        return "ok"
