// The error of a model (or one of its units) that the attack's float64 network cannot execute.

/** The model (or one unit of it) cannot be executed by the attack's float64 network. */
export class AttackSetupError extends Error {
  readonly unitId?: string;
  constructor(message: string, unitId?: string) {
    super(message);
    this.name = 'AttackSetupError';
    this.unitId = unitId;
  }
}
