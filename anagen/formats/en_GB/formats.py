"""One human format for every date and time staff and patients see (clinic's zone, 24-hour).

Input formats put ISO first: Django renders a date widget's value with the first input
format, and a browser's `<input type="date">` accepts only `YYYY-MM-DD`.
"""

DATE_FORMAT = "j M Y"  # 30 Nov 2026
SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"  # 14:05
DATETIME_FORMAT = "j M Y, H:i"  # 30 Nov 2026, 14:05
SHORT_DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
FIRST_DAY_OF_WEEK = 1
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y"]
TIME_INPUT_FORMATS = ["%H:%M", "%H:%M:%S"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
]
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
