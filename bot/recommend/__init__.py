"""Product recommendations: trained on the store's purchases, explained, filtered for each customer."""
