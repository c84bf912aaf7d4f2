"""Many payments per invoice, calculator, schedules, custom statuses and types, balances that are always right."""
