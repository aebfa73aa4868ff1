/**
 * A flow edit racing a deleteConnection on the connection it uses: one of the
 * two wins and the other gets the contract's answer (NOT_FOUND or CONFLICT),
 * never an internal error from the step's foreign key, and what is left is
 * consistent: a step never points at a deleted connection.
 */
import { codeOf, type GraphQLResponse } from '../support/sluice';
import { createHttpConnection } from '../support/flows';
import { APP, CONFIG, useApiOnlySluice } from './flowApi';

const s = useApiOnlySluice();

const CREATE_FLOW = `mutation($input: CreateFlowInput!) { createFlow(input: $input) { id steps { connection { id } } } }`;
const DELETE_CONNECTION = `mutation($id: ID!) { deleteConnection(id: $id) }`;
const ADD_STEP = `mutation($flowId: ID!, $input: StepInput!) { addStep(flowId: $flowId, input: $input) { id } }`;

function outcome(response: GraphQLResponse): string {
  return response.errors ? (codeOf(response) ?? 'NO_CODE') : 'ok';
}

it('createFlow against deleteConnection: one wins, the other is NOT_FOUND or CONFLICT', async () => {
  for (let round = 0; round < 20; round++) {
    const conn = await createHttpConnection(s, APP, { name: `race ${round}` });
    const [created, deleted] = await Promise.all([
      s.gql(CREATE_FLOW, { input: { name: `race ${round}`, steps: [{ name: 'export', kind: 'EXPORT', connectionId: conn, config: CONFIG.EXPORT }] } }),
      s.gql(DELETE_CONNECTION, { id: conn }),
    ]);
    const pair = `${outcome(created)}/${outcome(deleted)}`;
    // Either the flow exists with its step on a live connection (the delete was refused),
    // or the connection is gone and no flow was made.
    expect(['ok/CONFLICT', 'NOT_FOUND/ok']).toContain(pair);
  }
});

it('addStep against deleteConnection: one wins, the other is NOT_FOUND or CONFLICT', async () => {
  const keep = await createHttpConnection(s, APP, { name: 'kept' });
  for (let round = 0; round < 20; round++) {
    const flow = await s.ok<{ createFlow: { id: string } }>(CREATE_FLOW, {
      input: { name: `add ${round}`, steps: [{ name: 'export', kind: 'EXPORT', connectionId: keep, config: CONFIG.EXPORT }] },
    });
    const conn = await createHttpConnection(s, APP, { name: `doomed ${round}` });
    const [added, deleted] = await Promise.all([
      s.gql(ADD_STEP, { flowId: flow.createFlow.id, input: { name: 'import', kind: 'IMPORT', connectionId: conn, config: CONFIG.IMPORT } }),
      s.gql(DELETE_CONNECTION, { id: conn }),
    ]);
    expect(['ok/CONFLICT', 'NOT_FOUND/ok']).toContain(`${outcome(added)}/${outcome(deleted)}`);
  }
});
