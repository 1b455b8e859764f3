// The two timestamp forms the API server takes, always in UTC: Time
// (metav1.Time, RFC 3339 to the second: conditions, status fields) and
// MicroTime (metav1.MicroTime, six fractional digits: Events, Leases).
// JavaScript dates hold milliseconds, so MicroTime's last three digits are 0.

/** metav1.Time: `2026-01-02T03:04:05Z`, the milliseconds dropped. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime: `2026-01-02T03:04:05.678000Z`. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
