// Sign-in: the API key field. The key stays in this browser and goes out as a bearer token.
import { useState } from "react";
import { setApiKey, useAccess } from "../lib/auth";
import { refreshNow } from "../lib/refresh";

export function ApiKeyField() {
  const access = useAccess();
  const [open, setOpen] = useState(access.needsKey);
  const [draft, setDraft] = useState("");
  const signedIn = access.key != null;
  return (
    <div className="key-field">
      <button type="button" onClick={() => setOpen(!open)} className={access.needsKey ? "attention" : ""}>
        {signedIn ? `Key …${access.key?.slice(-4)}${access.canWrite ? "" : " (read-only)"}` : "Sign in"}
      </button>
      {(open || access.needsKey) && (
        <form
          className="key-menu"
          onSubmit={(e) => {
            e.preventDefault();
            setApiKey(draft.trim() || null);
            setDraft("");
            setOpen(false);
            refreshNow();
          }}
        >
          {access.needsKey && <p className="error">The API asks for a key.</p>}
          <input type="password" placeholder="API key" value={draft} onChange={(e) => setDraft(e.target.value)} autoComplete="off" />
          <button type="submit">Use key</button>
          {signedIn && (
            <button
              type="button"
              onClick={() => {
                setApiKey(null);
                setOpen(false);
                refreshNow();
              }}
            >
              Sign out
            </button>
          )}
        </form>
      )}
    </div>
  );
}
