"""Several warehouses: stock per warehouse, a warehouse on orders and invoices, transfers."""
