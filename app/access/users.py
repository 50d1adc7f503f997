"""Web UI users with argon2-hashed passwords and roles."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlmodel import Session, select

from app.errors import Conflict, InvalidInput
from app.models import User

ROLES = ("admin", "marketer", "viewer")
_hasher = PasswordHasher()


def create_user(session: Session, email: str, password: str, role: str) -> User:
    email = email.strip().lower()
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise InvalidInput("password", "must be at least 10 characters")
    if session.exec(select(User).where(User.email == email)).first():
        raise Conflict(f"user {email} already exists")
    user = User(email=email, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def verify_login(session: Session, email: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        _hasher.hash(password)  # same cost whether or not the user exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except VerificationError:
        return None
    return user
