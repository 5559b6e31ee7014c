// What a view shows while its data loads or when the API fails: the API's own message, never a blank.
export function Status({ loading, error, empty }: { loading?: boolean; error?: Error | null; empty?: string | false | null }) {
  if (error) return <div className="status error" role="alert">{error.message}</div>;
  if (loading) return <div className="status muted">Loading…</div>;
  if (empty) return <div className="status muted">{empty}</div>;
  return null;
}
