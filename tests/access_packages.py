"""The packages whose routes' rows, records and request bodies join the access table."""

from tests.billing import access as billing_access
from tests.bridge import access as bridge_access
from tests.certification import access as certification_access
from tests.monitoring import access as monitoring_access

PACKAGES = (bridge_access, certification_access, monitoring_access, billing_access)
