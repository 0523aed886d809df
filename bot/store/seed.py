"""Deterministic demo data for the retail store: customers, products and 540 days of orders."""

from __future__ import annotations

import random
import string
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import accumulate

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection, Engine

from bot.store.catalog import BRANDS, CATEGORIES
from bot.store.db import create_schema
from bot.store.models import CARRIERS, PAYMENT_METHODS, Base, Customer

DAYS_OF_HISTORY = 540
SEED_CLOCK = time(12, 0)  # the seeded store's "now": noon UTC on `today`
FIRST_ORDER_ID = 10001
INSERT_CHUNK = 5000

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Isla", "James",
    "Mia", "Lucas", "Freya", "Mateo", "Chloe", "Ethan", "Priya", "Arjun", "Zara", "Omar",
    "Hannah", "Jonas", "Lena", "Felix", "Sofia", "Luca", "Aisha", "Yusuf", "Grace", "Samuel",
    "Ines", "Hugo", "Maya", "Leo", "Nora", "Theo", "Ava", "Kai", "Elena", "Ravi",
)
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright",
    "Walker", "Thompson", "Evans", "Roberts", "Green", "Hall", "Wood", "Clarke", "Hughes", "Khan",
    "Müller", "Schmidt", "Fischer", "Weber", "Rossi", "Bianchi", "Garcia", "Martinez", "Dubois", "Moreau",
    "Novak", "Kowalski", "Nielsen", "Larsen", "O'Brien", "Murphy", "Kelly", "Chen", "Nguyen", "Silva",
)
STREETS = (
    "Elm Street", "Oak Avenue", "Maple Road", "Church Lane", "High Street", "Station Road",
    "Mill Lane", "Park Crescent", "Victoria Road", "Willow Close", "Harbour View", "Kings Way",
)
CITIES = (
    "Springfield", "Riverton", "Lakeside", "Fairview", "Brookfield", "Ashford", "Kingsbridge",
    "Millbrook", "Northgate", "Westhaven",
)
EMAIL_DOMAIN = "example.com"

PRICE_EUR: dict[str, tuple[int, int]] = {
    "electronics": (9, 349), "home and kitchen": (8, 249), "fashion": (7, 189), "beauty": (5, 119),
    "sports and outdoors": (6, 299), "toys and games": (5, 89), "books": (6, 45), "garden": (5, 399),
    "office": (3, 329),
}
USES: dict[str, tuple[str, ...]] = {
    "electronics": ("life on the go", "work and play", "the home office"),
    "home and kitchen": ("modern homes", "everyday living", "busy households"),
    "fashion": ("everyday wear", "city life", "weekends outdoors"),
    "beauty": ("daily routines", "self-care at home", "travel"),
    "sports and outdoors": ("training sessions", "outdoor adventures", "active weekends"),
    "toys and games": ("family game nights", "curious kids", "rainy afternoons"),
    "books": ("curious readers", "long journeys", "quiet evenings"),
    "garden": ("weekend gardeners", "balconies and small gardens", "green-fingered beginners"),
    "office": ("productive workdays", "tidy desks", "the home office"),
}
FIRST_SENTENCES = (
    "The {name} is {brand}'s most {quality} {ptype} yet, made for {use}.",
    "{Quality} {ptype} from {brand}, designed for {use}.",
    "Made for {use}: the {name}, {brand}'s most {quality} {ptype} yet.",
)
SECOND_SENTENCES = (
    "It ships within two working days and comes with a {years}-year warranty.",
    "Reviewers praise its {perk}, and returns are free for 30 days.",
    "{brand} backs it with a {years}-year warranty and friendly support.",
)
QUALITIES = ("lightweight", "durable", "compact", "versatile", "reliable", "comfortable", "elegant")
PERKS = ("build quality", "clever design", "value for money", "comfort", "reliability")
VARIANTS = ("Pro", "Lite", "Max", "Mini", "Plus", "Classic", "Sport", "Eco", "Air", "Studio")
COLOURS = ("Black", "White", "Navy", "Graphite", "Sage", "Sand", "Red", "Blue")
ACRONYMS = {"usb-c": "USB-C", "hdmi": "HDMI"}
OUT_OF_STOCK_SHARE = 0.05
POPULARITY_EXPONENT = 0.8  # Zipf-like: weight of the product ranked r is 1 / r ** exponent

CARRIER_WEIGHTS = (30, 25, 25, 20)
TRANSIT_DAYS: dict[str, tuple[int, int]] = {"DHL": (2, 4), "UPS": (2, 3), "DPD": (3, 5), "Royal Mail": (3, 6)}
PATTERN_ALPHABETS = {
    "#": string.digits, "@": string.ascii_uppercase, "*": string.ascii_uppercase + string.digits,
}
TRACKING_PATTERNS = {  # '#' a digit, '@' a capital letter, '*' either
    "DHL": "##########", "UPS": "1Z******##########", "DPD": "##############", "Royal Mail": "@@#########GB",
}
PAYMENT_WEIGHTS = (60, 25, 8, 7)
FATES, FATE_WEIGHTS = ("delivered", "cancelled", "returned"), (85, 8, 7)
ITEM_COUNTS, ITEM_COUNT_WEIGHTS = (1, 2, 3, 4), (50, 30, 14, 6)
QUANTITIES, QUANTITY_WEIGHTS = (1, 2, 3), (85, 12, 3)
LATE_DAYS, LATE_WEIGHTS = (0, 1, 2), (90, 7, 3)
RETURN_REASONS = (
    "doesn't fit", "not as described", "arrived damaged", "changed my mind", "wrong item sent",
    "stopped working",
)
DELIVERED_REFUND_SHARE = 0.03
UNVERIFIED_SHARE = 0.10
SLACK_SHARE, TELEGRAM_SHARE = 0.30, 0.40
ALEX = {
    "first_name": "Alex", "last_name": "Morgan", "email": "alex.morgan@example.com",
    "phone": "+447700900001", "default_address": "12 Elm Street, Springfield, 90210",
}
ALEX_SLACK, ALEX_TELEGRAM = "U0ALEXMORG", "100000001"

# The orders the docs rely on, all Alex's (customer 1): id, carrier, item count, expected delivery and
# status history, as days relative to `today`.
FIXTURE_ORDERS = (
    (10001, "DPD", 2, 2, (("pending", -2, 9, 30), ("processing", -2, 10, 5), ("shipped", -1, 14, 20))),
    (10002, "DHL", 3, -27, (("pending", -30, 18, 45), ("processing", -30, 19, 10), ("shipped", -29, 11, 0),
                            ("out_for_delivery", -27, 7, 40), ("delivered", -27, 13, 15))),
    (10003, "UPS", 2, 2, (("pending", -1, 20, 10), ("processing", -1, 21, 0))),
)

Row = dict[str, object]
Event = tuple[str, datetime]


@dataclass(frozen=True)
class SeedSummary:
    """Rows per table after seeding, and whether this call inserted them."""

    seeded: bool
    rows: Mapping[str, int]  # table name -> row count


def seed_demo(engine: Engine, *, seed: int = 7, today: date | None = None, customers: int = 1000,
              products: int = 300, orders: int = 10000, force: bool = False) -> SeedSummary:
    """Fill an empty store with demo data (`force` wipes it first); same arguments, same rows."""
    if customers < 2 or products < 4 or orders < len(FIXTURE_ORDERS):
        raise ValueError("the demo store needs at least 2 customers, 4 products and 3 orders")
    create_schema(engine)
    with engine.begin() as conn:
        if conn.execute(select(Customer.id).limit(1)).first() and not force:
            return _summary(conn, seeded=False)
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))
        rows = _DemoStore(random.Random(seed), today or date.today()).build(customers, products, orders)
        for table in Base.metadata.sorted_tables:
            for start in range(0, len(rows.get(table.name, [])), INSERT_CHUNK):
                conn.execute(insert(table), rows[table.name][start:start + INSERT_CHUNK])
        _sync_id_sequences(conn)
        return _summary(conn, seeded=True)


def _summary(conn: Connection, seeded: bool) -> SeedSummary:
    counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
              for t in Base.metadata.sorted_tables}
    return SeedSummary(seeded, counts)


def _sync_id_sequences(conn: Connection) -> None:
    """PostgreSQL: next id is max(id) + 1, or 1 for an empty table, as on SQLite."""
    if conn.dialect.name != "postgresql":
        return
    for table in Base.metadata.sorted_tables:
        max_id = select(func.max(table.c.id)).scalar_subquery()
        sequence = func.pg_get_serial_sequence(table.name, "id")
        conn.execute(select(func.setval(sequence, func.coalesce(max_id, 1), max_id.isnot(None))))


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute))


class _DemoStore:
    """Builds every row of the demo store in memory from one seeded random generator."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng, self.today = rng, today
        self.now = datetime.combine(today, SEED_CLOCK)
        self.rows: dict[str, list[Row]] = {table.name: [] for table in Base.metadata.sorted_tables}
        self.spend: dict[int, int] = {}
        self.first_order: dict[int, datetime] = {}

    def build(self, customers: int, products: int, orders: int) -> dict[str, list[Row]]:
        """All rows, keyed by table name, with explicit ids."""
        self._products(products)
        self._customers(customers)
        self._identities()
        self._fixture_orders()
        self._random_orders(orders - len(FIXTURE_ORDERS), customers)
        self._finish_customers()
        return self.rows

    def _add(self, table: str, **values: object) -> Row:
        row = {"id": len(self.rows[table]) + 1, **values}
        self.rows[table].append(row)
        return row

    def _pattern(self, pattern: str) -> str:
        return "".join(self.rng.choice(PATTERN_ALPHABETS[c]) if c in PATTERN_ALPHABETS else c
                       for c in pattern)

    def _unique(self, taken: set[str], make: Callable[[], str]) -> str:
        value = make()
        while value in taken:
            value = make()
        taken.add(value)
        return value

    def _address(self) -> str:
        rng = self.rng
        street, city = f"{rng.randint(1, 240)} {rng.choice(STREETS)}", rng.choice(CITIES)
        return f"{street}, {city}, {rng.randint(10000, 99999)}"

    # --- products -----------------------------------------------------------------------------

    def _products(self, count: int) -> None:
        rng = self.rng
        types = [(category, ptype) for category, ptypes in CATEGORIES.items() for ptype in ptypes]
        rng.shuffle(types)
        names: set[str] = set()
        out_of_stock_ids = set(rng.sample(range(1, count + 1), max(1, round(count * OUT_OF_STOCK_SHARE))))
        for pid in range(1, count + 1):
            category, ptype = types[pid - 1] if pid <= len(types) else rng.choice(types)
            brand = rng.choice(BRANDS)
            base = f"{brand} {_title(ptype)}"
            name = f"{base} {rng.choice(VARIANTS)}"
            while name in names:
                name = f"{base} {rng.choice(VARIANTS)} {rng.choice(COLOURS)}"
            names.add(name)
            low, high = PRICE_EUR[category]
            out_of_stock = pid in out_of_stock_ids
            self._add(
                "products", id=pid, sku=f"SKU-{pid:06d}", name=name, product_type=ptype, category=category,
                description=self._description(name, brand, ptype, category),
                price_cents=rng.randint(low, high) * 100 - 1,
                stock=0 if out_of_stock else rng.randint(3, 250),
                restock_date=self.today + timedelta(days=rng.randint(3, 30)) if out_of_stock else None,
            )
        self.prices = [product["price_cents"] for product in self.rows["products"]]
        ranks = list(range(1, count + 1))
        rng.shuffle(ranks)
        self.popularity = list(accumulate(1 / rank ** POPULARITY_EXPONENT for rank in ranks))

    def _description(self, name: str, brand: str, ptype: str, category: str) -> str:
        rng = self.rng
        quality = rng.choice(QUALITIES)
        first = rng.choice(FIRST_SENTENCES).format(name=name, brand=brand, quality=quality,
                                                   Quality=quality.capitalize(), ptype=ptype,
                                                   use=rng.choice(USES[category]))
        second = rng.choice(SECOND_SENTENCES).format(brand=brand, years=rng.randint(1, 3),
                                                     perk=rng.choice(PERKS))
        return f"{first} {second}"

    # --- customers and identities -------------------------------------------------------------

    def _customers(self, count: int) -> None:
        rng = self.rng
        self._add("customers", id=1, **ALEX, created_at=_at(self.today - timedelta(days=400), 9, 12),
                  lifetime_spend_cents=0)
        emails = {ALEX["email"]}
        for cid, phone in enumerate(rng.sample(range(900002, 1_000_000), count - 1), start=2):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local, suffix = _email_local(first, last), 1
            email = f"{local}@{EMAIL_DOMAIN}"
            while email in emails:
                suffix += 1
                email = f"{local}{suffix}@{EMAIL_DOMAIN}"
            emails.add(email)
            self._add("customers", id=cid, first_name=first, last_name=last, email=email,
                      phone=f"+447700{phone:06d}", default_address=self._address(), created_at=None,
                      lifetime_spend_cents=0)

    def _identities(self) -> None:
        rng = self.rng
        slack_ids, telegram_ids = {ALEX_SLACK}, {ALEX_TELEGRAM}
        for customer in self.rows["customers"]:
            alex = customer["id"] == 1
            channels = [("email", customer["email"]), ("phone", customer["phone"])]
            if alex or rng.random() < SLACK_SHARE:
                channels.append(("slack", ALEX_SLACK if alex else
                                 self._unique(slack_ids, lambda: self._pattern("U0********"))))
            if alex or rng.random() < TELEGRAM_SHARE:
                channels.append(("telegram", ALEX_TELEGRAM if alex else
                                 self._unique(telegram_ids, lambda: str(rng.randint(100000002, 999999999)))))
            for channel, external_id in channels:
                verified = alex or channel == "email" or rng.random() >= UNVERIFIED_SHARE
                self._add("identities", customer_id=customer["id"], channel=channel, external_id=external_id,
                          verified=verified)

    def _finish_customers(self) -> None:
        """Sign-up shortly before the first order; lifetime spend over the non-cancelled orders."""
        rng = self.rng
        for customer in self.rows["customers"]:
            cid = customer["id"]
            if customer["created_at"] is None:
                first = self.first_order.get(cid)
                if first is None:  # never ordered: signed up at some point of the history
                    first = self.now - timedelta(days=rng.randint(1, DAYS_OF_HISTORY))
                signed_up = timedelta(days=rng.randint(0, 60), seconds=rng.randint(3600, 86400))
                customer["created_at"] = first - signed_up
            customer["lifetime_spend_cents"] = self.spend.get(cid, 0)

    # --- orders -------------------------------------------------------------------------------

    def _fixture_orders(self) -> None:
        for oid, carrier, item_count, expected_in, history in FIXTURE_ORDERS:
            events = [(status, _at(self.today + timedelta(days=day), hour, minute))
                      for status, day, hour, minute in history]
            self._order(oid, 1, carrier, self.today + timedelta(days=expected_in), events, item_count,
                        ALEX["default_address"])

    def _random_orders(self, count: int, customers: int) -> None:
        """Orders over the last DAYS_OF_HISTORY days, busier lately, ids in creation order."""
        rng = self.rng
        horizon = DAYS_OF_HISTORY * 86400 - 600
        ages = sorted((600 + int(horizon * rng.random() ** 1.2) for _ in range(count)), reverse=True)
        activity = list(accumulate(rng.gammavariate(1.5, 1.0) for _ in range(customers - 1)))
        buyers = rng.choices(range(2, customers + 1), cum_weights=activity, k=count)
        first_id = FIRST_ORDER_ID + len(FIXTURE_ORDERS)
        for oid, age, cid in zip(range(first_id, first_id + count), ages, buyers, strict=True):
            created = self.now - timedelta(seconds=age)
            carrier = rng.choices(CARRIERS, CARRIER_WEIGHTS)[0]
            expected = created.date() + timedelta(days=rng.randint(*TRANSIT_DAYS[carrier]))
            events = [e for e in self._history(created, expected, rng.choices(FATES, FATE_WEIGHTS)[0])
                      if e[1] <= self.now]
            home = self.rows["customers"][cid - 1]["default_address"]
            address = self._address() if rng.random() < 0.1 else home
            item_count = rng.choices(ITEM_COUNTS, ITEM_COUNT_WEIGHTS)[0]
            order, items = self._order(oid, cid, carrier, expected, events, item_count, address)
            self._refunds(order, items, dict(events))

    def _history(self, created: datetime, expected: date, fate: str) -> list[Event]:
        """The order's whole status history as it will unfold; the caller cuts it at `now`."""
        rng = self.rng
        processing = created + timedelta(minutes=rng.randint(15, 720))
        if fate == "cancelled" and rng.random() < 0.5:
            return [("pending", created), ("cancelled", created + timedelta(minutes=rng.randint(2, 14)))]
        if fate == "cancelled":
            cancelled = processing + timedelta(minutes=rng.randint(10, 600))
            return [("pending", created), ("processing", processing), ("cancelled", cancelled)]
        day = expected + timedelta(days=rng.choices(LATE_DAYS, LATE_WEIGHTS)[0])
        shipped = min(processing + timedelta(minutes=rng.randint(240, 1800)),
                      _at(day - timedelta(days=1), 20, 0))
        out_for_delivery = _at(day, 7, 0) + timedelta(minutes=rng.randint(0, 120))
        delivered = _at(day, 10, 0) + timedelta(minutes=rng.randint(0, 540))
        history = [("pending", created), ("processing", processing), ("shipped", shipped),
                   ("out_for_delivery", out_for_delivery), ("delivered", delivered)]
        if fate == "returned":
            returned = delivered + timedelta(days=rng.randint(2, 8), minutes=rng.randint(0, 600))
            history.append(("returned", returned))
        return history

    def _order(self, oid: int, cid: int, carrier: str, expected: date, events: list[Event], item_count: int,
               address: str) -> tuple[Row, list[Row]]:
        """Add an order with its items, status history and (unless cancelled) invoice."""
        rng = self.rng
        items = [self._add("order_items", order_id=oid, product_id=pid, unit_price_cents=self.prices[pid - 1],
                           quantity=rng.choices(QUANTITIES, QUANTITY_WEIGHTS)[0])
                 for pid in self._pick_products(item_count)]
        total = sum(item["quantity"] * item["unit_price_cents"] for item in items)
        (_, created), (status, _) = events[0], events[-1]
        happened = dict(events)
        tracking = self._pattern(TRACKING_PATTERNS[carrier]) if "shipped" in happened else None
        order = self._add(
            "orders", id=oid, customer_id=cid, status=status, created_at=created, expected_delivery=expected,
            delivered_at=happened.get("delivered"), shipping_address=address, carrier=carrier,
            tracking_number=tracking, total_cents=total,
            payment_method=rng.choices(PAYMENT_METHODS, PAYMENT_WEIGHTS)[0],
        )
        for event_status, at in events:
            self._add("order_status_events", order_id=oid, status=event_status, at=at)
        if status != "cancelled":
            self._add("invoices", order_id=oid, number=f"INV-{created.year}-{oid:06d}", issued_at=created,
                      amount_cents=total)
            self.spend[cid] = self.spend.get(cid, 0) + total
        self.first_order.setdefault(cid, created)
        return order, items

    def _pick_products(self, count: int) -> list[int]:
        """`count` distinct product ids, popular ones more often."""
        ids = range(1, len(self.prices) + 1)
        picks: list[int] = []
        while len(picks) < count:
            pid = self.rng.choices(ids, cum_weights=self.popularity)[0]
            if pid not in picks:
                picks.append(pid)
        return picks

    # --- refunds ------------------------------------------------------------------------------

    def _refunds(self, order: Row, items: list[Row], happened: dict[str, datetime]) -> None:
        """Cancelled and returned orders are refunded; a few delivered ones have a refund request."""
        rng = self.rng
        if order["status"] == "cancelled":
            cancelled = happened["cancelled"]
            self._refund(order, None, "order cancelled", cancelled, "refunded",
                         cancelled + timedelta(days=rng.randint(1, 3)))
        elif order["status"] == "returned":
            delivered, returned = happened["delivered"], happened["returned"]
            kept_for = int((returned - delivered).total_seconds())
            requested = delivered + timedelta(seconds=rng.randint(3600, kept_for))
            outcome = rng.choices(("refunded", "approved", "requested"), (85, 10, 5))[0]
            self._refund(order, None, rng.choice(RETURN_REASONS), requested, outcome,
                         returned + timedelta(hours=rng.randint(2, 72)))
        elif order["status"] == "delivered" and rng.random() < DELIVERED_REFUND_SHARE:
            after = timedelta(days=rng.randint(1, 14), minutes=rng.randint(0, 1439))
            requested = happened["delivered"] + after
            if requested <= self.now:
                item = rng.choice(items) if rng.random() < 0.7 else None
                outcome = rng.choices(("rejected", "approved", "requested"), (40, 30, 30))[0]
                self._refund(order, item, rng.choice(RETURN_REASONS), requested, outcome,
                             requested + timedelta(days=rng.randint(1, 3)))

    def _refund(self, order: Row, item: Row | None, reason: str, requested: datetime, outcome: str,
                decided: datetime) -> None:
        """Add a refund; one whose decision would come after `now` is still 'requested'."""
        if outcome == "requested" or decided > self.now:
            outcome, decided = "requested", requested
        amount = order["total_cents"] if item is None else item["quantity"] * item["unit_price_cents"]
        self._add("refunds", order_id=order["id"], order_item_id=None if item is None else item["id"],
                  amount_cents=amount, reason=reason, status=outcome, requested_at=requested,
                  updated_at=decided)


def _title(ptype: str) -> str:
    """'usb-c charger' -> 'USB-C Charger'; str.title() would give "Children'S Book"."""
    return " ".join(ACRONYMS.get(word, word[:1].upper() + word[1:]) for word in ptype.split())


def _email_local(first: str, last: str) -> str:
    """'Lena', 'Müller' -> 'lena.muller'; "O'Brien" -> 'obrien'."""
    ascii_name = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
    return ascii_name.lower().replace("'", "")
