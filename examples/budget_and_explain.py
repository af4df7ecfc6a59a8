"""A hard token budget: one memory packed into smaller and smaller contexts, and why."""

from tiermem import MemoryConfig, TieredMemory

FACTS = [
    "I moved to Lisbon in May 2023 with my partner Ana.",
    "My sister Clara is getting married on 14 June in Porto.",
    "We adopted a grey cat called Miso last winter.",
    "I started a new job at a bakery on Rua Augusta.",
    "I run 10 km every Sunday morning along the river.",
    "Ana is learning the violin and practises every evening.",
]

# small tiers, so that older turns are evicted and summarised within a few turns
config = MemoryConfig(
    tokenizer="cl100k_base",
    short_term={"max_tokens": 100},
    medium_term={"trigger_tokens": 40, "summary_tokens": 40},
)
with TieredMemory("memory://", config=config) as mem:
    for i, fact in enumerate(FACTS, start=1):
        mem.add_message("user", fact, session_id="s1", user_id="me")
        mem.add_message("assistant", f"Noted ({i}).", session_id="s1", user_id="me")

    question = "When is my sister's wedding?"
    contexts = {}
    for budget in (400, 120, 50):
        ctx = contexts[budget] = mem.build_context(
            question, session_id="s1", user_id="me", max_tokens=budget
        )
        assert ctx.token_count <= budget  # counted with the real tokenizer
        print(f"budget {budget:>3}: {ctx.token_count:>3} tokens, {len(ctx.kept):>2} kept, "
              f"{len(ctx.left_out):>2} left out, per tier {ctx.tokens_per_tier()}")  # fmt: skip

    print()
    print(contexts[120].explain())  # every candidate: tier, score parts, kept or not, and why
