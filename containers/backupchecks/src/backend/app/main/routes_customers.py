from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..auth.access import ADMIN, READERS, STAFF, roles_required
from ..extensions import db
from ..models import Customer, Job
from ..services.customers import (
    CustomerError,
    create_customer,
    delete_customer,
    export_customers_csv,
    import_customers_csv,
    update_customer,
)
from . import bp
from .forms import ConfirmForm, CustomerForm, CustomerImportForm
from .pagination import paginate


def _get_customer(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


@bp.route("/customers")
@roles_required(*READERS)
def customers():
    q = request.args.get("q", "").strip()
    show = request.args.get("show", "all")
    job_count = (select(func.count(Job.id)).where(Job.customer_id == Customer.id, Job.deleted_at.is_(None))
                 .correlate(Customer).scalar_subquery())
    query = select(Customer, job_count.label("job_count")).order_by(func.lower(Customer.name))
    if q:
        query = query.where(Customer.name.ilike(f"%{q}%"))
    if show == "active":
        query = query.where(Customer.active.is_(True))
    elif show == "inactive":
        query = query.where(Customer.active.is_(False))
    page = paginate(query, per_page=50, scalars=False)
    return render_template("main/customers.html", page=page, q=q, show=show, import_form=CustomerImportForm(),
                           confirm_form=ConfirmForm())


@bp.route("/customers/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def customer_create():
    form = CustomerForm()
    if form.validate_on_submit():
        try:
            customer = create_customer(current_user, form.name.data, form.active.data, form.notes.data)
        except CustomerError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"Customer {customer.name} created.", "success")
            return redirect(url_for("main.customers"))
    return render_template("main/customer_form.html", form=form, customer=None)


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def customer_edit(customer_id: int):
    customer = _get_customer(customer_id)
    form = CustomerForm(obj=customer)
    if form.validate_on_submit():
        try:
            update_customer(current_user, customer, form.name.data, form.active.data, form.notes.data)
        except CustomerError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"Customer {customer.name} saved.", "success")
            return redirect(url_for("main.customers"))
    return render_template("main/customer_form.html", form=form, customer=customer, confirm_form=ConfirmForm())


@bp.route("/customers/<int:customer_id>/delete", methods=["POST"])
@roles_required(*ADMIN)
def customer_delete(customer_id: int):
    customer = _get_customer(customer_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = customer.name
    try:
        delete_customer(current_user, customer)
    except CustomerError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("main.customer_edit", customer_id=customer_id))
    db.session.commit()
    flash(f"Customer {name} deleted.", "success")
    return redirect(url_for("main.customers"))


@bp.route("/customers/export.csv")
@roles_required(*READERS)
def customers_export():
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(export_customers_csv(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=customers-{stamp}.csv"})


@bp.route("/customers/import", methods=["POST"])
@roles_required(*STAFF)
def customers_import():
    form = CustomerImportForm()
    if not form.validate_on_submit():
        flash("Choose a CSV file to import.", "warning")
        return redirect(url_for("main.customers"))
    raw = form.file.data.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    try:
        report = import_customers_csv(current_user, text)
    except CustomerError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("main.customers"))
    db.session.commit()
    flash(f"Import done: {report.created} created, {report.updated} updated, {report.unchanged} unchanged.",
          "success" if not report.errors else "warning")
    for error in report.errors[:20]:
        flash(f"Skipped {error}", "warning")
    if len(report.errors) > 20:
        flash(f"… and {len(report.errors) - 20} more skipped lines (see the audit log).", "warning")
    return redirect(url_for("main.customers"))
