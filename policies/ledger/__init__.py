"""The privacy-budget ledger: epsilon per dataset, composed with Opacus' accountants (PRV or RDP).

Model. A dataset's budget covers everything that touched it:

* every DP-SGD step actually taken (``record_steps``; the persisted accountant history the trainer continues),
* plus, for each job holding a *reservation* (approved, not yet ended), the steps it planned and has not yet taken,
* plus a flat epsilon for jobs that gave no step plan (their ``target_epsilon``; Opacus stops them there) and for
  committed jobs whose spend came as a number only.

Composition is computed by the accountant over the whole history, not by adding per-job epsilons (adding would
over-charge). ``reserve`` refuses (:class:`BudgetExceededError`) when the total would pass the budget. The
accountant runs outside the write lock; a per-dataset version counter, checked under the lock, makes a
reservation computed on stale data retry (optimistic concurrency), so concurrent reservations from threads or
processes never exceed the budget together.

Modules: ``accounting`` (steps to epsilon, no storage), ``records`` (reservations and plans as values),
``storage`` (the SQL over the ledger tables), ``reporting`` (budgets and every read), ``privacy_ledger``
(:class:`PrivacyLedger`: the reads plus reserve, commit or release, record steps).
"""

from policies.ledger.accounting import ACCOUNTANTS, Step, compact, epsilon_of, planned_steps
from policies.ledger.privacy_ledger import MAX_RETRIES, PrivacyLedger
from policies.ledger.records import Reservation, ReservationPlan, ReservationStatus, StaleLedgerError
from policies.ledger.reporting import DatasetBudget

__all__ = [
    "ACCOUNTANTS",
    "MAX_RETRIES",
    "DatasetBudget",
    "PrivacyLedger",
    "Reservation",
    "ReservationPlan",
    "ReservationStatus",
    "StaleLedgerError",
    "Step",
    "compact",
    "epsilon_of",
    "planned_steps",
]
