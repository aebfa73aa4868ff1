import { MAX_WAIT_MS, SuccessReports } from '../../src/engine/successReports';

describe('SuccessReports', () => {
  it('counts only the successes of queues that recover, and reports them once there are enough to move the level', () => {
    const reports = new SuccessReports();
    reports.succeeded('steady', 0); // not recovering: not counted
    reports.recorded('limited', 3);
    reports.succeeded('limited', 0);
    reports.succeeded('limited', 1);
    expect(reports.takeDue(2)).toEqual([]);
    reports.succeeded('limited', 2);
    expect(reports.takeDue(3)).toEqual([['limited', 3]]);
    expect(reports.takeDue(4)).toEqual([]); // taken once
  });

  it('reports fewer once the oldest has waited long enough, since other processes count toward the same threshold', () => {
    const reports = new SuccessReports();
    reports.recorded('limited', 100);
    reports.succeeded('limited', 10);
    reports.succeeded('limited', 50);
    expect(reports.nextDueIn(60)).toBe(MAX_WAIT_MS - 50);
    expect(reports.takeDue(10 + MAX_WAIT_MS - 1)).toEqual([]);
    expect(reports.takeDue(10 + MAX_WAIT_MS)).toEqual([['limited', 2]]);
    expect(reports.nextDueIn(1000)).toBeNull();
  });

  it('forgets a queue that reached its target', () => {
    const reports = new SuccessReports();
    reports.recorded('limited', 5);
    reports.succeeded('limited', 0);
    reports.recorded('limited', null);
    reports.succeeded('limited', 1);
    expect(reports.takeDue(10_000)).toEqual([]);
  });
});
