"""The reports page (supervisors and admins), its JSON and CSV, and the on-call list the console reads."""
import csv
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from conversations.models import Product

from . import audit, live, oncall, reports
from .api_errors import error_response
from .console import staff_required
from .params import whole_number

DEFAULT_DAYS = 30


class BadFilter(Exception):
    pass


def supervisors_only(view):
    @staff_required
    def wrapped(request, *args, **kwargs):
        if not live.sees_everything(request.user):
            raise PermissionDenied
        try:
            return view(request, *args, **kwargs)
        except BadFilter as problem:
            return error_response(400, "invalid", str(problem))

    wrapped.__name__ = view.__name__
    return wrapped


def filters(request):
    """(start, end, product_ids) from ?product=<id>&from=YYYY-MM-DD&to=YYYY-MM-DD (default: last 30 days)."""
    today = timezone.now().date()
    try:
        end = date.fromisoformat(request.GET["to"]) if request.GET.get("to") else today
        start = date.fromisoformat(request.GET["from"]) if request.GET.get("from") else end - timedelta(
            days=DEFAULT_DAYS - 1)
    except ValueError:
        raise BadFilter("`from` and `to` must be dates (YYYY-MM-DD).")
    if start > end or (end - start).days >= reports.MAX_DAYS:
        raise BadFilter(f"The period must run forward and last at most {reports.MAX_DAYS} days.")
    product = request.GET.get("product") or ""
    if not product:
        return start, end, None
    product_id = whole_number(product)
    if product_id is None or not Product.objects.filter(pk=product_id).exists():
        raise BadFilter("Unknown product.")
    return start, end, [product_id]


@supervisors_only
def page(request):
    start, end, product_ids = filters(request)
    return render(request, "reports/reports.html", {
        "products": Product.objects.order_by("name"),
        "start": start, "end": end, "product": product_ids[0] if product_ids else None,
        "csv_reports": reports.CSV_REPORTS, "year": end.year,
    })


@supervisors_only
def data(request):
    start, end, product_ids = filters(request)
    return JsonResponse(reports.compute(start, end, product_ids))


@supervisors_only
def report_csv(request, name):
    if name not in reports.CSV_REPORTS:
        raise BadFilter(f"No report {name!r}; one of {', '.join(reports.CSV_REPORTS)}.")
    start, end, product_ids = filters(request)
    rows = reports.csv_rows(name, reports.compute(start, end, product_ids), product_ids)
    audit.record("report.exported", actor=request.user, report=name, start=start.isoformat(), end=end.isoformat(),
                 products=product_ids)
    return csv_response(rows, f"{name}-{start}-{end}.csv")


@supervisors_only
def referrals_csv(request, year):
    if not 2000 <= year <= 2100:
        raise BadFilter("No such year.")
    _, _, product_ids = filters(request)
    audit.record("report.exported", actor=request.user, report="referrals", year=year, products=product_ids)
    return csv_response(reports.referral_rows(year, product_ids), f"crisis-referrals-{year}.csv")


# A cell a spreadsheet would run as a formula (OWASP, "CSV Injection"): a product is named by
# whoever has the admin, and a supervisor opens the export in Excel.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """`value` as a cell: text starting like a formula gets a leading apostrophe (shown as text);
    numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(rows, filename):
    """Every CSV the app writes goes through here, and every cell through csv_cell."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    csv.writer(response).writerows([csv_cell(cell) for cell in row] for row in rows)
    return response


@staff_required
def oncall_json(request):
    """Who is on call now, who has the console open, the understaffed warning and the next day's shifts."""
    now = timezone.now()
    summary = oncall.summary(now)
    summary["upcoming"] = [{"user": s.user.get_username(), "role": s.role, "since": s.starts_at.isoformat(),
                            "until": s.ends_at.isoformat()} for s in oncall.upcoming(now)]
    return JsonResponse(summary)
