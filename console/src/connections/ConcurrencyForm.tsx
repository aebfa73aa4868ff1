/**
 * A connection's concurrency policy and borrowing, saved with one "Save":
 * borrowConcurrency when the lender changed, then setConcurrency (the whole
 * policy at once) unless the connection now borrows — a borrower's policy is
 * its owner's (contract: setConcurrency on a borrower is BAD_USER_INPUT).
 * With auto-recovery the level is the engine's (read-only here) and the
 * target is what is set; without it the level is set, and empty means burst.
 */
import { useState, type FormEvent } from 'react';
import { useMutation, type CombinedError } from 'urql';
import { graphql } from '../gql';
import { canAct, useSession } from '../session/session';
import { ApiError } from '../ui/ApiError';

const SetConcurrency = graphql(`
  mutation SetConcurrency($input: SetConcurrencyInput!) {
    setConcurrency(input: $input) {
      id
      concurrencyLevel
      autoRecoverRateLimitErrors
      targetConcurrencyLevel
    }
  }
`);

const BorrowConcurrency = graphql(`
  mutation BorrowConcurrency($connectionId: ID!, $fromConnectionId: ID) {
    borrowConcurrency(connectionId: $connectionId, fromConnectionId: $fromConnectionId) {
      id
      borrowConcurrencyFrom {
        id
        name
      }
      queueOwner {
        id
        name
      }
      concurrencyLevel
      autoRecoverRateLimitErrors
      targetConcurrencyLevel
    }
  }
`);

interface Policy {
  id: string;
  application: string;
  concurrencyLevel?: number | null;
  autoRecoverRateLimitErrors: boolean;
  targetConcurrencyLevel?: number | null;
  rateLimit?: { requests: number; perMilliseconds: number } | null;
  borrowConcurrencyFrom?: { id: string } | null;
}

const text = (n: number | null | undefined): string => (n === null || n === undefined ? '' : String(n));

export function ConcurrencyForm({
  connection: c,
  connections,
  maxLevel,
}: {
  connection: Policy;
  connections: { id: string; name: string; application: string }[];
  maxLevel: number;
}) {
  const session = useSession();
  const actions = canAct(session.role);
  const [autoRecover, setAutoRecover] = useState(c.autoRecoverRateLimitErrors);
  const [level, setLevel] = useState(text(c.concurrencyLevel));
  const [target, setTarget] = useState(text(c.targetConcurrencyLevel));
  const [lender, setLender] = useState(c.borrowConcurrencyFrom?.id ?? '');
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<CombinedError | null>(null);
  const [, setConcurrency] = useMutation(SetConcurrency);
  const [, borrow] = useMutation(BorrowConcurrency);
  const [busy, setBusy] = useState(false);
  const borrowing = lender !== '';
  const lenders = connections.filter((o) => o.id !== c.id && o.application === c.application);

  async function save(event: FormEvent): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setSaved(null);
    setError(null);
    try {
      if (lender !== (c.borrowConcurrencyFrom?.id ?? '')) {
        const r = await borrow({ connectionId: c.id, fromConnectionId: lender === '' ? null : lender });
        if (r.error) return setError(r.error);
      }
      if (!borrowing) {
        const wanted = autoRecover ? target : level;
        const r = await setConcurrency({
          input: {
            connectionId: c.id,
            level: wanted === '' ? null : Number(wanted),
            autoRecoverRateLimitErrors: autoRecover,
            rateLimit: c.rateLimit ? { requests: c.rateLimit.requests, perMilliseconds: c.rateLimit.perMilliseconds } : null,
          },
        });
        if (r.error) return setError(r.error);
        const next = r.data?.setConcurrency;
        if (next) {
          setLevel(text(next.concurrencyLevel));
          setTarget(text(next.targetConcurrencyLevel));
        }
      }
      setSaved('Saved.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={(e) => void save(e)} aria-label="Concurrency">
      <label className="check">
        <input type="checkbox" checked={autoRecover} disabled={!actions || borrowing} onChange={(e) => setAutoRecover(e.target.checked)} />
        Auto-recover rate-limit errors
      </label>
      <div className="field">
        <label htmlFor="concurrency-level">Concurrency level</label>
        <input
          id="concurrency-level"
          type="number"
          min={1}
          max={maxLevel}
          placeholder="burst"
          value={level}
          readOnly={autoRecover}
          disabled={!actions || borrowing}
          aria-describedby="concurrency-level-hint"
          onChange={(e) => setLevel(e.target.value)}
        />
        <small id="concurrency-level-hint">
          {autoRecover ? 'The level in use now, set by auto-recovery on its way to the target.' : `Empty: burst mode (no limit). At most ${maxLevel}.`}
        </small>
      </div>
      <div className="field">
        <label htmlFor="target-level">Target concurrency level</label>
        <input
          id="target-level"
          type="number"
          min={1}
          max={maxLevel}
          placeholder={String(maxLevel)}
          value={target}
          disabled={!actions || borrowing || !autoRecover}
          aria-describedby="target-level-hint"
          onChange={(e) => setTarget(e.target.value)}
        />
        <small id="target-level-hint">With auto-recovery: the level it climbs back to (empty: {maxLevel}).</small>
      </div>
      <div className="field">
        <label htmlFor="borrow-from">Borrow concurrency from</label>
        <select id="borrow-from" value={lender} disabled={!actions} onChange={(e) => setLender(e.target.value)}>
          <option value="">Nobody (its own queue)</option>
          {lenders.map((o) => (
            <option key={o.id} value={o.id}>
              {o.name}
            </option>
          ))}
        </select>
        <small>Only connections of the same application. A borrower uses its queue owner's queue and level.</small>
      </div>
      <button type="submit" disabled={!actions || busy}>
        Save
      </button>
      <ApiError error={error} />
      {saved && <p role="status">{saved}</p>}
    </form>
  );
}
