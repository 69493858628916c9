"""The one environ.Env() of the project; .env is read only where the OS environment is silent."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# OS variables win over .env: read_env() never overwrites what is already set.
_dotenv = BASE_DIR / ".env"
if _dotenv.is_file():
    environ.Env.read_env(str(_dotenv), overwrite=False)
