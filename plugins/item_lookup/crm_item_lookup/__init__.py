"""A fast faceted picker for products, bundles and services."""
