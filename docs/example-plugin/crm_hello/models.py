from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Model


class Greeting(Model):
    __tablename__ = "hello_greetings"  # tables start with the plugin id

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
