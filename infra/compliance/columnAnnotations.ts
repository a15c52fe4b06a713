/**
 * What every column of the reference schema holds, said once: its data category and how a staging copy masks it.
 * The ROPA's data categories for clinic data (ropaAnnotations.ts), the local staging copy's masking (infra/staging)
 * and Neon's masking rules are all derived from this table, so the record of processing and the masking cannot
 * disagree. A column the database has and this table lacks fails `unannotatedColumns` (a migration that adds a
 * column annotates it here).
 */
export type DataCategory = "not-personal" | "identifier" | "name" | "contact" | "credential" | "health" | "payment" | "free-text" | "date-of-birth";

/**
 * How a staging copy replaces a value: deterministic per run key (the same input gives the same output in every
 * table), format-keeping, never the row's own original. `keep` copies the value as is and must say why.
 *  - email: a local part derived from the value @staging.invalid (RFC 2606 reserves .invalid: never a real inbox);
 *  - phone: same length and punctuation, the digit after "+" and two more becomes 0 (no E.164 number starts so);
 *  - person-name: a name from a fixed list, never the original;
 *  - secret: a value no password matches (staging logins are staging's own);
 *  - token: the prefix before the first "_" kept, the rest derived (payment-provider ids);
 *  - date-shift: moved 1–60 days, the same offset for every shifted column of a row;
 *  - redact: a fixed marker.
 */
export type MaskStrategy = "email" | "phone" | "person-name" | "secret" | "token" | "date-shift" | "redact" | "keep";

export interface ColumnAnnotation {
  category: DataCategory;
  mask: MaskStrategy;
  /** Required when personal data is kept as is: why keeping it is safe. */
  reason?: string;
}

const notPersonal: ColumnAnnotation = { category: "not-personal", mask: "keep" };
const surrogateKey: ColumnAnnotation = { category: "identifier", mask: "keep", reason: "a random surrogate key, meaningless outside this database; kept so every foreign key holds" };
const tenantKey = notPersonal;
/** A booking's or payment's own timestamp would give the moved date away: it moves with it. */
const bookingTime: ColumnAnnotation = { category: "health", mask: "date-shift" };

/** The reference schema (prisma/schema.prisma as the migrations build it), table by table. */
export const COLUMN_ANNOTATIONS: Record<string, Record<string, ColumnAnnotation>> = {
  clinic: { id: notPersonal, name: notPersonal, tier: notPersonal, created_at: notPersonal },
  user: {
    id: surrogateKey,
    email: { category: "contact", mask: "email" },
    name: { category: "name", mask: "person-name" },
    role: notPersonal,
    password_hash: { category: "credential", mask: "secret" },
    clinic_id: tenantKey,
    created_at: notPersonal,
  },
  // A branch is a clinic's premises: its name and address are the business's, not a person's.
  branch: { id: notPersonal, name: notPersonal, address: notPersonal, clinic_id: tenantKey, created_at: notPersonal },
  therapist: {
    id: surrogateKey,
    name: { category: "name", mask: "person-name" },
    email: { category: "contact", mask: "email" },
    branch_id: notPersonal,
    clinic_id: tenantKey,
    created_at: notPersonal,
  },
  patient: {
    id: surrogateKey,
    name: { category: "name", mask: "person-name" },
    email: { category: "contact", mask: "email" },
    phone: { category: "contact", mask: "phone" },
    clinic_id: tenantKey,
    created_at: notPersonal,
  },
  // The clinic's catalogue of treatment packages: about no one until an appointment links it to a patient.
  paquete: { id: notPersonal, name: notPersonal, sessions: notPersonal, price_cents: notPersonal, clinic_id: tenantKey },
  // A booking says when a person was treated, and how: Art. 9 health data. The date moves (and the record's own
  // timestamp with it, which would give the date away); the rest is kept, tied to a person only through the
  // masked patient.
  appointment: {
    id: surrogateKey,
    patient_id: surrogateKey,
    therapist_id: surrogateKey,
    branch_id: notPersonal,
    paquete_id: { category: "health", mask: "keep", reason: "which package, with the patient's identity masked and the date moved; staging needs real-shaped bookings" },
    date: { category: "health", mask: "date-shift" },
    hour: { category: "health", mask: "keep", reason: "an hour of the day identifies no one once the date has moved" },
    status: { category: "health", mask: "keep", reason: "booked/cancelled identifies no one once the patient is masked" },
    clinic_id: tenantKey,
    created_at: bookingTime,
  },
  payment: {
    id: surrogateKey,
    appointment_id: surrogateKey,
    patient_id: surrogateKey,
    amount_cents: { category: "payment", mask: "keep", reason: "an amount identifies no one once the patient and the provider reference are masked" },
    currency: notPersonal,
    stripe_id: { category: "payment", mask: "token" },
    clinic_id: tenantKey,
    created_at: bookingTime,
  },
};

/** How each category reads in the records of processing. */
export const CATEGORY_LABELS: Record<Exclude<DataCategory, "not-personal">, string> = {
  identifier: "record identifiers (patients, staff, bookings, payments)",
  name: "names (patients, staff)",
  contact: "contact data (email, phone)",
  credential: "staff account credentials (password hashes)",
  health: "appointments and treatment packages",
  payment: "payments (amounts, payment-provider references)",
  "free-text": "free-text notes",
  "date-of-birth": "dates of birth",
};

/** Art. 9 categories among them. */
export const SPECIAL_CATEGORY_LABELS: Partial<Record<DataCategory, string>> = { health: "health data (Art. 9: bookings reveal treatment)" };

export interface AnnotatedColumn extends ColumnAnnotation {
  table: string;
  column: string;
}

export function annotatedColumns(annotations = COLUMN_ANNOTATIONS): AnnotatedColumn[] {
  return Object.entries(annotations).flatMap(([table, cols]) => Object.entries(cols).map(([column, a]) => ({ table, column, ...a })));
}

/** The columns a staging copy replaces. */
export const maskedColumns = (annotations = COLUMN_ANNOTATIONS) => annotatedColumns(annotations).filter((c) => c.mask !== "keep");

/** The ROPA's categories of clinic data, in a stable order: what the columns hold, never more or less. */
export function clinicDataCategories(annotations = COLUMN_ANNOTATIONS): { dataCategories: string[]; specialCategories: string[] } {
  const present = new Set(annotatedColumns(annotations).map((c) => c.category));
  const order = Object.keys(CATEGORY_LABELS) as (keyof typeof CATEGORY_LABELS)[];
  return {
    dataCategories: order.filter((c) => present.has(c)).map((c) => CATEGORY_LABELS[c]),
    specialCategories: order.filter((c) => present.has(c) && SPECIAL_CATEGORY_LABELS[c]).map((c) => SPECIAL_CATEGORY_LABELS[c]!),
  };
}

/**
 * What is wrong with the annotations against the columns a database has: a column without an annotation, an
 * annotation for a column that is gone, personal data kept without a reason, a strategy on a non-personal column.
 */
export function annotationProblems(columns: { table: string; column: string }[], annotations = COLUMN_ANNOTATIONS): string[] {
  const problems: string[] = [];
  const have = new Set(columns.map((c) => `${c.table}.${c.column}`));
  for (const c of columns) {
    if (!annotations[c.table]?.[c.column]) {
      problems.push(`${c.table}.${c.column} has no annotation: add it to COLUMN_ANNOTATIONS (infra/compliance/columnAnnotations.ts) with its category and masking, or "not-personal"`);
    }
  }
  for (const a of annotatedColumns(annotations)) {
    if (!have.has(`${a.table}.${a.column}`)) problems.push(`${a.table}.${a.column} is annotated but the database has no such column: remove the annotation`);
    if (a.category !== "not-personal" && a.mask === "keep" && !a.reason) problems.push(`${a.table}.${a.column} is ${a.category} data kept unmasked without a reason: give a masking strategy or a reason`);
    if (a.category === "not-personal" && a.mask !== "keep") problems.push(`${a.table}.${a.column} is not-personal but masked (${a.mask}): give it its personal category`);
  }
  return problems;
}
