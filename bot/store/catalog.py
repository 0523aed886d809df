"""Vocabulary of the demo catalog: categories, product types, brands and order statuses."""

from __future__ import annotations

CATEGORIES: dict[str, list[str]] = {
    "electronics": [
        "wireless headphones", "bluetooth speaker", "phone case", "usb-c charger", "power bank",
        "smartwatch", "fitness tracker", "mechanical keyboard", "wireless mouse", "webcam",
        "laptop stand", "hdmi cable", "e-reader", "tablet", "earbuds",
    ],
    "home and kitchen": [
        "coffee maker", "electric kettle", "blender", "toaster", "frying pan", "knife set",
        "cutting board", "bed sheets", "duvet", "towel set", "desk lamp", "vacuum cleaner",
        "air fryer", "dinner plates", "storage boxes",
    ],
    "fashion": [
        "t-shirt", "jeans", "sneakers", "rain jacket", "winter coat", "hoodie", "dress",
        "leather belt", "backpack", "wool scarf", "sunglasses", "running shorts", "socks",
        "handbag", "baseball cap",
    ],
    "beauty": [
        "face cream", "shampoo", "conditioner", "perfume", "lipstick", "hair dryer",
        "electric toothbrush", "sunscreen", "nail polish", "beard trimmer",
    ],
    "sports and outdoors": [
        "yoga mat", "dumbbells", "tent", "sleeping bag", "hiking boots", "water bottle",
        "bike helmet", "tennis racket", "football", "resistance bands",
    ],
    "toys and games": [
        "board game", "puzzle", "building blocks", "plush toy", "remote control car",
        "card game", "doll house", "kite",
    ],
    "books": [
        "cookbook", "novel", "travel guide", "children's book", "notebook", "comic book",
    ],
    "garden": [
        "garden hose", "plant pot", "pruning shears", "lawn mower", "bird feeder", "seed kit",
    ],
    "office": [
        "office chair", "desk organiser", "printer paper", "fountain pen", "whiteboard",
        "stapler", "monitor arm",
    ],
}

BRANDS: list[str] = [
    "Nordwind", "Altura", "Bellhaven", "Corvo", "Driftwood", "Everline", "Fjell", "Granite & Co",
    "Halcyon", "Ivory Lane", "Juniper", "Kestrel", "Lumen", "Marlow", "Northway", "Oakridge",
]

ORDER_STATUSES: tuple[str, ...] = (
    "pending", "processing", "shipped", "out_for_delivery", "delivered", "cancelled", "returned",
)
REFUND_STATUSES: tuple[str, ...] = ("requested", "approved", "refunded", "rejected")
CHANNELS: tuple[str, ...] = ("email", "phone", "slack", "telegram")
