"""The help desk's own JSON routes under /api/v1: support
contracts, the phone queue, the monthly desk figures and tier 3's defect list."""

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import CurrentActor
from bridgedesk.db import Db
from bridgedesk.schemas import Id
from monitoring.models import Defect
from monitoring.schemas.common import MonthText
from monitoring.schemas.desk import (
    ContractIn,
    ContractOut,
    ContractPatch,
    ContractsOut,
    DefectIn,
    DefectOut,
    DefectsOut,
    DeskFiguresOut,
    QueuedCallOut,
    QueueOut,
    ReleaseIn,
)
from monitoring.schemas.tickets import TicketOut
from monitoring.service import contracts, defects, desk_figures, phone_queue

router = APIRouter(prefix="/api/v1", tags=["help desk"])


@router.post("/support-contracts", status_code=201)
async def create_contract(body: ContractIn, db: Db, actor: CurrentActor) -> ContractOut:
    data = contracts.NewContract(
        customer_id=body.customer_id,
        systems=body.systems,
        authorized=[p.to_person() for p in body.authorized],
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        policy_id=body.policy_id,
    )
    return ContractOut.from_model(await contracts.create_contract(db, data, by=actor))


@router.get("/support-contracts")
async def list_contracts(
    db: Db, actor: CurrentActor, customer_id: Id | None = None
) -> ContractsOut:
    found = await contracts.list_contracts(db, by=actor, customer_id=customer_id)
    return ContractsOut(items=[ContractOut.from_model(c) for c in found])


@router.get("/support-contracts/{contract_id}")
async def get_contract(contract_id: Id, db: Db, actor: CurrentActor) -> ContractOut:
    return ContractOut.from_model(await contracts.get_contract(db, contract_id, by=actor))


@router.patch("/support-contracts/{contract_id}")
async def change_contract(
    contract_id: Id, body: ContractPatch, db: Db, actor: CurrentActor
) -> ContractOut:
    change = contracts.ContractChange(
        add_authorized=[p.to_person() for p in body.add_authorized],
        systems=body.systems,
        ends_on=body.ends_on,
        policy_id=body.policy_id,
    )
    return ContractOut.from_model(
        await contracts.change_contract(db, contract_id, change, by=actor)
    )


@router.get("/desk/queue")
async def phone_queue_waiting(db: Db, actor: CurrentActor) -> QueueOut:
    calls = await phone_queue.waiting_calls(db, by=actor)
    return QueueOut(items=[QueuedCallOut.from_model(t) for t in calls])


@router.post("/desk/queue/next")
async def answer_next_call(db: Db, actor: CurrentActor) -> TicketOut:
    return TicketOut.from_model(await phone_queue.answer_next(db, by=actor))


@router.get("/desk/figures")
async def get_desk_figures(
    db: Db, actor: CurrentActor, month: MonthText, customer_id: Id | None = None
) -> DeskFiguresOut:
    figures = await desk_figures.desk_figures_for(
        db, month=month, customer_id=customer_id, by=actor
    )
    return DeskFiguresOut.from_figures(figures)


async def _defect_out(db: AsyncSession, defect: Defect) -> DefectOut:
    out = DefectOut.from_model(defect)
    out.ticket_ids = [t.id for t in await defects.tickets_of(db, defect)]
    return out


@router.post("/defects", status_code=201)
async def create_defect(body: DefectIn, db: Db, actor: CurrentActor) -> DefectOut:
    data = defects.NewDefect(body.kind, body.title, body.description)
    return await _defect_out(db, await defects.create_defect(db, data, by=actor))


@router.get("/defects")
async def list_defects(db: Db, actor: CurrentActor) -> DefectsOut:
    return DefectsOut(
        items=[DefectOut.from_model(d) for d in await defects.list_defects(db, by=actor)]
    )


@router.get("/defects/{defect_id}")
async def get_defect(defect_id: Id, db: Db, actor: CurrentActor) -> DefectOut:
    return await _defect_out(db, await defects.get_defect(db, defect_id, by=actor))


@router.post("/defects/{defect_id}/release")
async def release_fix(defect_id: Id, body: ReleaseIn, db: Db, actor: CurrentActor) -> DefectOut:
    defect = await defects.release_fix(db, defect_id, release=body.release, by=actor)
    return await _defect_out(db, defect)
