"""Scopes are isolation boundaries: two users share one store and never see each other."""

from tiermem import TieredMemory

with TieredMemory("memory://") as mem:
    mem.remember("Allergic to peanuts", user_id="alice", importance=0.9, tags=["health"])
    mem.remember("Allergic to shellfish", user_id="bob", importance=0.9, tags=["health"])
    mem.add_message("user", "My cat is called Miso.", session_id="alice-1", user_id="alice")
    mem.add_message("user", "My dog is called Rex.", session_id="bob-1", user_id="bob")

    for user in ("alice", "bob"):
        hits = mem.search("allergic pet cat dog peanuts shellfish", user_id=user, k=10)
        print(f"{user} finds: {sorted(h.record.text for h in hits)}")
        assert {h.record.user_id for h in hits} == {user}

        # long-term memory spans sessions: a new session still knows the pet
        ctx = mem.build_context(
            "What is my pet called?", session_id=f"{user}-2", user_id=user, max_tokens=200
        )
        print(f"{user}, new session:", ctx.text.splitlines()[-1])
        other = "Rex" if user == "alice" else "Miso"
        assert other not in ctx.text

    everyone = mem.search("allergic", k=10)  # no scope: the whole store (an admin view)
    print("unscoped search:", sorted(h.record.text for h in everyone))
    print("no record crossed from one user to the other")
