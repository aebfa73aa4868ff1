/**
 * The NOTIFY channel that tells every process a job was canceled (payload:
 * the job id), so the ones running its calls abort them at once.
 */
export const CANCEL_CHANNEL = 'sluice_cancel';
