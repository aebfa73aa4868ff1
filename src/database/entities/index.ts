export { ApiTokenRow } from './apiToken.entity';
export { ConnectionRow, type ConnectionStateName } from './connection.entity';
export { FlowRow } from './flow.entity';
export { StepRow } from './step.entity';
export { JobRow } from './job.entity';
export { JobErrorRow } from './jobError.entity';
import { ApiTokenRow } from './apiToken.entity';
import { ConnectionRow } from './connection.entity';
import { FlowRow } from './flow.entity';
import { StepRow } from './step.entity';
import { JobRow } from './job.entity';
import { JobErrorRow } from './jobError.entity';

export const entities = [ApiTokenRow, ConnectionRow, FlowRow, StepRow, JobRow, JobErrorRow];
