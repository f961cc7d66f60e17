"""A small labelled retrieval set: paraphrased queries, each with its one relevant record."""

from __future__ import annotations

DOCS = {
    "bread": "Knead the dough for ten minutes, let it rise overnight, then bake at 230 degrees.",
    "tax": "Annual income tax returns must be filed with the revenue office before April 30.",
    "python": "Python's asyncio runs coroutines on an event loop without using threads.",
    "heart": "Regular aerobic exercise lowers blood pressure and strengthens the heart muscle.",
    "mars": "The rover collected rock samples from an ancient river delta on Mars.",
    "coffee": "Espresso is brewed by forcing hot water through finely ground coffee beans.",
    "football": "The striker scored twice in the final minutes to win the championship match.",
    "piano": "She practiced scales on the piano every morning before school.",
    "rain": "Heavy storms and flooding are expected across the coast this weekend.",
    "password": "Reset your account password using the link sent to your email address.",
    "cat": "My kitten sleeps on the windowsill all afternoon in the sunshine.",
    "stocks": "Share prices fell sharply after the central bank raised interest rates.",
    "vaccine": "The immunisation campaign reached most children in rural districts.",
    "train": "The overnight sleeper service departs the capital at ten in the evening.",
    "garden": "Water the tomato plants early and mulch the beds to keep moisture in.",
    "wedding": "The bride and groom exchanged vows under an oak tree by the lake.",
}

QUERIES = {
    "how do I make a loaf at home": "bread",
    "deadline for submitting my yearly earnings declaration": "tax",
    "concurrent programming with async functions in python": "python",
    "cardio workouts are good for cardiovascular health": "heart",
    "robot exploring the red planet": "mars",
    "how is a strong italian coffee made": "coffee",
    "soccer team won the title with late goals": "football",
    "daily keyboard instrument practice": "piano",
    "weather forecast warns of storms and floods": "rain",
    "I forgot my login credentials": "password",
    "young cat napping in the sun": "cat",
    "markets drop when rates go up": "stocks",
    "children were vaccinated in the countryside": "vaccine",
    "night train leaving the city": "train",
    "keeping vegetable plants watered": "garden",
    "couple got married outdoors": "wedding",
}


def recall_at(k: int, ranked: dict[str, list[str]]) -> float:
    """Fraction of queries whose relevant record is in the top k."""
    found = sum(1 for q, want in QUERIES.items() if want in ranked[q][:k])
    return found / len(QUERIES)
