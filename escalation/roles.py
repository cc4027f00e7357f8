"""Staff roles are Django groups; an admin is also a superuser (the Django admin is theirs)."""
from django.contrib.auth.models import Group, User
from django.db import transaction

ROLES = ("operator", "supervisor", "admin")


def role_of(user) -> str | None:
    names = {group.name for group in user.groups.all()}  # no query when the groups were prefetched
    return next((role for role in reversed(ROLES) if role in names), None)


@transaction.atomic
def create_staff(username, password, role) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    user, _ = User.objects.get_or_create(username=username)
    user.set_password(password)
    user.is_staff = True
    user.is_superuser = role == "admin"
    user.save()
    user.groups.set([Group.objects.get_or_create(name=role)[0]])
    return user
