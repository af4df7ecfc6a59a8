"""Quick start: store a conversation, find it again after a restart, build a budgeted context."""

import tempfile

from tiermem import MemoryConfig, TieredMemory

config = MemoryConfig(tokenizer="cl100k_base")

with tempfile.TemporaryDirectory() as folder:
    with TieredMemory(folder, config=config) as mem:
        mem.add_message("user", "I moved to Lisbon in May.", session_id="s1", user_id="u1")
        mem.add_message("assistant", "Lisbon is lovely in spring!", session_id="s1", user_id="u1")
        mem.remember("Prefers answers in Portuguese", user_id="u1", importance=0.9, tags=["pref"])

    # a restart (or another process) finds everything in the folder
    with TieredMemory(folder, config=config) as mem:
        print("records:", mem.stats()["records"])
        hit = mem.search("where does the user live?", user_id="u1", k=1)[0]
        print(f"top hit ({hit.score:.2f}): {hit.record.text}")

        ctx = mem.build_context("where do I live?", session_id="s1", user_id="u1", max_tokens=200)
        print(f"context: {ctx.token_count}/{ctx.max_tokens} tokens")
        for message in ctx.messages:  # ready for any chat model
            print(f"  {message['role']}: {message['content']}")
