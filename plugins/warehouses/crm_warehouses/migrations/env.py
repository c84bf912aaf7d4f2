from crm.migrate import run_env

run_env()
