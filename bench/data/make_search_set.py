"""Write bench/data/search_quality.json: the labelled set bench/search_quality.py measures.

Run once after editing: .venv/bin/python bench/data/make_search_set.py
Hand-written paraphrase pairs (the query shares few words with its record) and near-duplicate
distractors, plus generated identifier families whose members differ only in digits, so
the file is reproducible and the set can grow without hand-editing JSON.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# (key, record, paraphrased query, [near-duplicate distractors])
PARAPHRASES: list[tuple[str, str, str, list[str]]] = [
    (
        "it-printer",
        "The third-floor laser printer jams whenever someone prints double-sided pages.",
        "paper keeps getting stuck in the office copier when using both sides",
        ["The third-floor laser printer is out of toner and prints faded pages."],
    ),
    (
        "it-password",
        "Staff must rotate their login passphrase every ninety days under the new policy.",
        "how often do employees have to change credentials",
        ["Staff may reset a forgotten login passphrase at the self-service portal."],
    ),
    (
        "it-backup",
        "Nightly snapshots of the file server are copied offsite to a second data centre.",
        "where do copies of our shared drive go each evening",
        ["Weekly snapshots of the mail server are kept for one month."],
    ),
    (
        "it-wifi",
        "Guests can join the visitor wireless network with the code printed at reception.",
        "how do visitors get internet access in the lobby",
        ["Employees join the corporate wireless network with their badge certificate."],
    ),
    (
        "med-flu",
        "Seasonal influenza shots are offered free to everyone over sixty-five each autumn.",
        "are older people vaccinated against the flu at no cost",
        ["Seasonal influenza cases peaked in January and filled the emergency ward."],
    ),
    (
        "med-sleep",
        "Patients with insomnia are advised to avoid screens and caffeine before bedtime.",
        "tips for people who cannot fall asleep at night",
        ["Patients with sleep apnoea are fitted with a pressure mask."],
    ),
    (
        "med-fracture",
        "An X-ray confirmed a hairline crack in the left wrist after the cyclist fell.",
        "imaging showed a small broken bone in the arm of the bike rider",
        ["An X-ray of the right knee showed no damage after the runner slipped."],
    ),
    (
        "med-diet",
        "A low-sodium meal plan helps keep high blood pressure under control.",
        "eating less salt to manage hypertension",
        ["A high-fibre meal plan helps keep cholesterol under control."],
    ),
    (
        "air-delay",
        "Thick fog at the airport grounded all morning departures for three hours.",
        "poor visibility kept planes on the tarmac before noon",
        ["Thick snow at the airport closed the second runway overnight."],
    ),
    (
        "air-luggage",
        "Checked suitcases heavier than twenty-three kilos incur an extra fee at the desk.",
        "do I pay more if my bag is overweight",
        ["Checked suitcases that go missing are traced by the baggage service."],
    ),
    (
        "air-crew",
        "Cabin attendants must rest at least ten hours between long-haul duties.",
        "minimum break for flight staff after an intercontinental trip",
        ["Cabin attendants train every year on evacuation slides."],
    ),
    (
        "air-seat",
        "Passengers may pick an emergency exit row only if they are willing to assist.",
        "who is allowed to sit next to the escape doors on a plane",
        ["Passengers may pick a window row for a small surcharge."],
    ),
    (
        "hotel-breakfast",
        "The morning buffet is served in the garden restaurant from six until ten.",
        "what time can guests eat the first meal of the day",
        ["The evening buffet is served on the rooftop terrace from seven."],
    ),
    (
        "hotel-pets",
        "Dogs and cats are welcome in ground-floor rooms for a small cleaning charge.",
        "can I bring my animals when I stay",
        ["Dogs are not allowed in the spa or the swimming pool area."],
    ),
    (
        "hotel-checkout",
        "Rooms must be vacated by eleven, though a later departure can be requested.",
        "how late may I leave my room on the last day",
        ["Rooms are ready for arrival from three in the afternoon."],
    ),
    (
        "hotel-parking",
        "The underground garage charges a flat nightly rate for resident vehicles.",
        "how much does it cost to leave my car at the hotel",
        ["The underground garage is closed for repairs until spring."],
    ),
    (
        "ship-customs",
        "Parcels sent outside the union need a declaration of contents and value.",
        "what paperwork is required for international packages",
        ["Parcels sent inside the union arrive within three working days."],
    ),
    (
        "ship-damaged",
        "If a delivery arrives broken, photograph the box before opening a claim.",
        "my order came smashed, what should I do",
        ["If a delivery arrives late, the courier refunds the express fee."],
    ),
    (
        "ship-fragile",
        "Glassware is wrapped in two layers of bubble film and packed upright.",
        "how are breakable items protected in transit",
        ["Glassware returns are accepted within fourteen days of purchase."],
    ),
    (
        "ship-tracking",
        "Every consignment gets a code that shows its location on the courier website.",
        "how can I see where my shipment is right now",
        ["Every consignment over two kilos needs a signature on arrival."],
    ),
    (
        "hr-leave",
        "New parents receive sixteen weeks of paid absence after a birth or adoption.",
        "how much time off do mothers and fathers get for a new baby",
        ["New employees receive twenty-five days of paid holiday each year."],
    ),
    (
        "hr-remote",
        "Employees may work from home up to three days a week with manager approval.",
        "rules for doing my job outside the office",
        ["Employees may claim a desk chair for the home office once."],
    ),
    (
        "hr-expenses",
        "Receipts for travel costs must be submitted within thirty days to be refunded.",
        "deadline for getting reimbursed for trip spending",
        ["Receipts for travel costs are scanned and stored for ten years."],
    ),
    (
        "hr-review",
        "Performance conversations take place twice a year between staff and their lead.",
        "how often do I meet my boss to discuss how I am doing",
        ["Performance bonuses are paid once a year in March."],
    ),
    (
        "fin-invoice",
        "Supplier bills are paid thirty days after the end of the month they arrive.",
        "when do vendors get their money",
        ["Supplier bills above ten thousand need a second signature."],
    ),
    (
        "fin-audit",
        "External accountants inspect the books every spring before the annual report.",
        "when do outside auditors check our financial records",
        ["External accountants charge by the hour for tax advice."],
    ),
    (
        "fin-budget",
        "Each department plans next year's spending in October and submits it to finance.",
        "when do teams draw up their cost forecasts",
        ["Each department reports last month's spending to finance by the fifth."],
    ),
    (
        "fin-currency",
        "Payments in dollars are converted at the central bank rate on the booking date.",
        "which exchange rate applies to foreign money transactions",
        ["Payments in dollars are sent through the correspondent bank in New York."],
    ),
    (
        "sea-lamp",
        "The old lighthouse beam is visible twenty nautical miles out on a clear night.",
        "how far away can sailors see the tower's light",
        ["The old lighthouse keeper's cottage is now a small museum."],
    ),
    (
        "sea-tide",
        "Boats should leave the harbour only on a rising tide to clear the sandbar.",
        "when is it safe for vessels to exit the port over the shallow bank",
        ["Boats moored in the harbour pay a fee to the port authority."],
    ),
    (
        "sea-storm",
        "Small craft warnings are issued when gusts exceed thirty-four knots offshore.",
        "when do forecasters tell little boats to stay ashore because of wind",
        ["Small craft must carry a life jacket for every person aboard."],
    ),
    (
        "sea-knot",
        "A bowline makes a fixed loop that will not slip or jam under load.",
        "which rope tie forms a secure eye that stays put",
        ["A reef knot joins two ends of the same line around a sail."],
    ),
    (
        "garden-tomato",
        "Pinch out side shoots on cordon tomatoes so the plant puts energy into fruit.",
        "removing extra stems helps vines produce more",
        ["Pick cordon tomatoes when they turn fully red and slightly soft."],
    ),
    (
        "garden-frost",
        "Cover young seedlings with fleece on nights when temperatures drop below zero.",
        "protecting new plants from freezing weather",
        ["Sow young seedlings in trays on a warm windowsill in March."],
    ),
    (
        "garden-compost",
        "Kitchen peelings and dry leaves rot down into rich soil within a year.",
        "turning food scraps into fertiliser",
        ["Kitchen herbs grow well in pots on a sunny balcony."],
    ),
    (
        "garden-lawn",
        "Mow the grass high in summer so the roots stay shaded and survive drought.",
        "keep the turf longer during hot dry months",
        ["Mow the grass short in autumn before the leaves fall."],
    ),
    (
        "cook-rice",
        "Rinse the grains until the water runs clear, then simmer covered for twelve minutes.",
        "how to prepare fluffy basmati",
        ["Rinse the lentils and soak them for an hour before cooking."],
    ),
    (
        "cook-steak",
        "Let the meat rest for five minutes after searing so the juices settle.",
        "why wait before cutting a grilled beef fillet",
        ["Season the meat with salt an hour before searing."],
    ),
    (
        "cook-bread",
        "Knead the dough for ten minutes and leave it to prove overnight in the fridge.",
        "making a loaf with a slow cold rise",
        ["Bake the dough at two hundred and thirty degrees with steam."],
    ),
    (
        "cook-soup",
        "Blend roasted squash with stock and a splash of cream for a velvety starter.",
        "smooth pumpkin potage recipe",
        ["Roast squash wedges with chilli and serve them with yoghurt."],
    ),
    (
        "astro-eclipse",
        "The moon will completely hide the sun for four minutes over the desert in August.",
        "total solar blackout visible this summer",
        ["The moon will pass through the earth's shadow in November."],
    ),
    (
        "astro-mars",
        "The rover drilled rock samples from an ancient river delta on the red planet.",
        "robot collecting stones on Mars",
        ["The rover's camera photographed a dust devil crossing the crater."],
    ),
    (
        "astro-meteor",
        "Shooting stars peak around the twelfth when the comet's debris hits the atmosphere.",
        "best night to watch the annual meteor shower",
        ["Shooting stars are easier to see far from city lights."],
    ),
    (
        "astro-telescope",
        "A larger mirror gathers more light and reveals fainter galaxies.",
        "why bigger observatory optics show dimmer objects",
        ["A larger mount keeps a heavy telescope steady in the wind."],
    ),
    (
        "car-tyre",
        "Check the tread depth monthly; below 1.6 millimetres the tyre is illegal.",
        "how worn can wheels get before they fail inspection",
        ["Check the tyre pressure monthly and before long motorway trips."],
    ),
    (
        "car-battery",
        "A vehicle that will not start on cold mornings often needs a new battery.",
        "engine dead in winter, probably the accumulator",
        ["A vehicle battery is recycled at the depot free of charge."],
    ),
    (
        "car-oil",
        "Change the engine lubricant every fifteen thousand kilometres or once a year.",
        "how often should the motor's oil be replaced",
        ["Change the wiper blades every year before the autumn rain."],
    ),
    (
        "car-brakes",
        "A squealing noise when stopping means the pads are worn and must be replaced.",
        "high-pitched screech when I slow down",
        ["A squealing belt under the bonnet usually needs tightening."],
    ),
]

TICKET_ISSUES = [
    "VPN connection drops every twenty minutes for the {p} office.",
    "Shared mailbox stopped syncing on phones in the {p} office.",
    "Laptop fails to wake from sleep after the update at the {p} site.",
    "Invoices portal shows a blank page for users in {p}.",
    "Badge readers reject valid cards at the {p} entrance.",
    "Conference room display will not connect to laptops in {p}.",
    "Payroll export times out for the {p} branch.",
    "Printer queue is stuck for the accounts team in {p}.",
]
PLACES = [
    "Berlin",
    "Hamburg",
    "Lisbon",
    "Porto",
    "Oslo",
    "Bergen",
    "Lyon",
    "Nantes",
    "Turin",
    "Genoa",
    "Leeds",
    "Bristol",
]
DIAGNOSES = [
    ("J45", "asthma, {v}, inhaler reviewed at the clinic"),
    ("E11", "type 2 diabetes, {v}, HbA1c checked every three months"),
    ("M54", "low back pain, {v}, physiotherapy referral"),
    ("K21", "gastro-oesophageal reflux, {v}, proton pump inhibitor started"),
    ("F32", "depressive episode, {v}, follow-up in four weeks"),
    ("I25", "chronic ischaemic heart disease, {v}, statin continued"),
    ("N18", "chronic kidney disease, {v}, eGFR monitored"),
    ("L40", "psoriasis, {v}, topical treatment renewed"),
]
VARIANTS = ["mild", "moderate", "severe", "unspecified"]
ROUTES = [
    ("LH", "Frankfurt", "Chicago"),
    ("BA", "London", "Boston"),
    ("AF", "Paris", "Dakar"),
    ("KL", "Amsterdam", "Nairobi"),
    ("IB", "Madrid", "Lima"),
    ("SK", "Oslo", "Newark"),
    ("AY", "Helsinki", "Tokyo"),
    ("OS", "Vienna", "Bangkok"),
]
HOTELS = [
    "Harbour View",
    "Old Mill",
    "Station Lodge",
    "Lakeside",
    "Grand Central",
    "Pine Court",
    "River House",
    "Market Inn",
]


def twins(rng: random.Random, digits: int, count: int) -> list[str]:
    """`count` distinct numbers of `digits` digits that share all but one digit."""
    base = [rng.randrange(10) for _ in range(digits)]
    base[0] = rng.randrange(1, 10)
    out = {"".join(map(str, base))}
    while len(out) < count:
        changed = list(base)
        pos = rng.randrange(1, digits)
        changed[pos] = (changed[pos] + rng.randrange(1, 10)) % 10
        out.add("".join(map(str, changed)))
    return sorted(out)


def build() -> dict[str, object]:
    rng = random.Random(19)
    records: dict[str, str] = {}
    queries: list[dict[str, object]] = []
    for key, text, query, dups in PARAPHRASES:
        records[key] = text
        for i, dup in enumerate(dups):
            records[f"{key}-dup{i}"] = dup
        queries.append({"kind": "paraphrase", "query": query, "relevant": [key]})

    families: list[tuple[str, list[tuple[str, str, str]]]] = []  # (kind, [(key, id, text)])
    for i, issue in enumerate(TICKET_ISSUES):
        members = []
        for j, num in enumerate(twins(rng, 5, 6)):
            ident = f"INC-{num}"
            text = f"Ticket {ident}: {issue.format(p=PLACES[(i + j) % len(PLACES)])}"
            members.append((f"ticket-{i}-{j}", ident, text))
        families.append(("ticket", members))
    for i, (stem, desc) in enumerate(DIAGNOSES):
        members = []
        codes = sorted(
            {f"{stem}.{n}" for n in twins(rng, 2, 5)} | {f"{stem}.{rng.randrange(1, 9)}"}
        )
        for j, code in enumerate(codes[:6]):
            text = f"Clinic note: diagnosis {code}, {desc.format(v=VARIANTS[j % 4])}."
            members.append((f"icd-{i}-{j}", code, text))
        families.append(("icd10", members))
    for i, (airline, origin, dest) in enumerate(ROUTES):
        members = []
        for j, num in enumerate(twins(rng, 3, 6)):
            ident = f"{airline}{num}"
            text = (
                f"Flight {ident} from {origin} to {dest} is delayed by "
                f"{30 + 15 * j} minutes because of a late inbound aircraft."
            )
            members.append((f"flight-{i}-{j}", ident, text))
        families.append(("flight", members))
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    for i, hotel in enumerate(HOTELS):
        members = []
        head = "".join(rng.choice(letters) for _ in range(2))
        tail = rng.choice(letters)
        middle = rng.choice(letters)
        for j, num in enumerate(twins(rng, 3, 6)):
            ident = f"{head}{num[0]}{middle}{num[1:]}{tail}"
            text = (
                f"Booking {ident}: double room at the {hotel} hotel, {2 + j} nights, "
                "late arrival after ten, breakfast included."
            )
            members.append((f"booking-{i}-{j}", ident, text))
        families.append(("booking", members))

    mixed_words = {
        "ticket": "problem reported by staff",
        "icd10": "patient diagnosis note",
        "flight": "late departure",
        "booking": "hotel reservation",
    }
    summaries = {
        "ticket": "Known issue without a ticket number: {t}",
        "icd10": "Coding guidance for this condition: {t}",
        "flight": "Route notice for passengers: {t}",
        "booking": "Group enquiry, not yet confirmed: {t}",
    }
    for n, (kind, members) in enumerate(families):
        for key, _ident, text in members:
            records[key] = text
        # A near-duplicate that names no identifier at all (the topic without the number).
        _, first_ident, first_text = members[0]
        tail = first_text.split(first_ident, 1)[1].lstrip(": ,")
        records[f"{kind}-{n}-noid"] = summaries[kind].format(t=tail)
        # Two bare-identifier queries per family (two of the twins), one mixed query.
        for key, ident, _ in members[:2]:
            queries.append(
                {"kind": "identifier", "query": ident, "relevant": [key], "id_type": kind}
            )
        key, ident, _ = members[-1]
        queries.append(
            {
                "kind": "mixed",
                "query": f"{mixed_words[kind]} {ident}",
                "relevant": [key],
                "id_type": kind,
            }
        )
    # Split: every other query of each kind is held out; tuning never looks at those.
    seen: dict[str, int] = {}
    for q in queries:
        count = seen.get(str(q["kind"]), 0)
        q["part"] = "tuning" if count % 2 == 0 else "held_out"
        seen[str(q["kind"])] = count + 1
    return {"records": records, "queries": queries}


if __name__ == "__main__":
    data = build()
    out = Path(__file__).with_name("search_quality.json")
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    kinds: dict[str, int] = {}
    for q in data["queries"]:  # type: ignore[union-attr]
        kinds[q["kind"]] = kinds.get(q["kind"], 0) + 1  # type: ignore[index]
    print(f"{len(data['records'])} records, {sum(kinds.values())} queries {kinds}")  # type: ignore[arg-type]
